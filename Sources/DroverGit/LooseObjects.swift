import CZlib
import Crypto
import DroverCore
import Foundation
import Synchronization

/// Writes git objects straight into a repository's object store as loose objects — what
/// `git hash-object -w` does, without starting a process: SHA-1 over `<type> <size>\0<content>`,
/// zlib-compressed, written beside its final name and renamed into place, read-only.
///
/// Objects get git's own level for loose objects (1, best speed), except trees and mid-sized
/// blobs, which are stored uncompressed (zlib level 0), because the committer packs loose objects
/// in the background soon after (`git repack`, which delta-compresses the versions of a file or
/// folder against each other far better than zlib could one by one):
/// - a tree is 40% object ids, which do not compress: the listing of an image folder at a million
///   images (190 KB) shrinks to 70% for 4 ms of zlib, a fifth of the commit;
/// - a blob of 256 KB to 4 MB (a rows file of thousands of lines) costs ~10 ms a MB to compress.
///   Past a few MB, raw copies would fill the disk and the repacks faster than they save time
///   (measured: 100k rows got slower), so those are compressed again.
///
/// Durable before a ref names them: ``makeDurable()`` syncs the objects written since its last
/// call and the directories that gained them, all at once (concurrent `fsync`s share the
/// filesystem's journal commits), once per commit.
final class LooseObjects: Sendable {
    /// Blobs of this many bytes are stored uncompressed.
    static let storedUncompressed = (256 << 10)..<(4 << 20)

    /// A git object's kind.
    enum Kind: String {
        case blob, tree, commit
    }

    /// `.git/objects`.
    let directory: String
    /// Objects written since the last ``makeDurable()``, and the directories that gained them
    /// (or, for `directory` itself, a fan-out folder).
    private let unsynced = Mutex<Set<String>>([])

    init(directory: String) {
        self.directory = directory
    }

    /// Stores an object (unless it is stored already).
    /// - Returns: its id, 40 lowercase hex digits, and how many bytes were stored (0 if none).
    func write(_ kind: Kind, _ content: some Collection<UInt8>) throws -> (id: String, stored: Int) {
        var object = Array("\(kind.rawValue) \(content.count)\0".utf8)
        object.reserveCapacity(object.count + content.count)
        object += content
        let id = Hex.encode(Insecure.SHA1.hash(data: object))
        let folder = directory + "/" + id.prefix(2)
        let path = folder + "/" + id.dropFirst(2)
        // Stored already: touched as git does, so that a `git prune` running now keeps it.
        if utimes(path, nil) == 0 { return (id, 0) }
        let compressed = try Self.deflate(object, level: kind == .tree || Self.storedUncompressed.contains(content.count) ? 0 : 1)
        let temporary = folder + "/tmp_obj_drover_\(UInt64.random(in: 0...UInt64.max))"
        try writeCreatingFolder(compressed, to: temporary, in: folder)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw GitWriteError("cannot store object \(id) (errno \(errno))")
        }
        unsynced.withLock { $0.formUnion([path, folder]) }
        return (id, compressed.count)
    }

    /// Makes the objects written since the last call durable, names included: after it, a ref
    /// may name them.
    func makeDurable() throws {
        let paths = unsynced.withLock { paths in
            defer { paths = [] }
            return paths
        }
        try FileIO.sync(Array(paths))
    }

    /// Writes the object's temporary file, making its fan-out folder first if it is missing:
    /// `git prune-packed` (run by a background repack) removes empty ones at any moment.
    private func writeCreatingFolder(_ bytes: Data, to path: String, in folder: String) throws {
        var attempts = 0
        while true {
            if mkdir(folder, 0o755) == 0 { unsynced.withLock { _ = $0.insert(directory) } }
            do {
                return try FileIO.write(bytes, to: path, mode: 0o444, exclusive: true)
            } catch where attempts < 3 && access(folder, F_OK) != 0 {
                attempts += 1
            }
        }
    }

    private static func deflate(_ bytes: [UInt8], level: Int32) throws -> Data {
        var capacity = compressBound(uLong(bytes.count))
        var out = Data(count: Int(capacity))
        let status = out.withUnsafeMutableBytes { target in
            bytes.withUnsafeBufferPointer { source in
                compress2(target.baseAddress?.assumingMemoryBound(to: Bytef.self), &capacity, source.baseAddress, uLong(bytes.count), level)
            }
        }
        guard status == Z_OK else { throw GitWriteError("zlib failed (\(status))") }
        out.count = Int(capacity)
        return out
    }
}

/// The dataset's repository could not be written; the message says where.
public struct GitWriteError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
