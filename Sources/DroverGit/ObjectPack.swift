import CZlib
import Crypto
import DroverCore
import Foundation

/// The git objects of one commit, written into the repository as one pack (`.pack` and its
/// `.idx`, version 2) — what `git index-pack` would make of them: each object's SHA-1 over
/// `<type> <size>\0<content>`, its content zlib-compressed, no deltas.
///
/// One pack is three `fsync`s however many objects the commit has (the pack, its index, the
/// folder that gained them), where loose objects cost two each (the file and its fan-out
/// folder): an image commit has nine objects. The committer combines the packs in the
/// background (`git repack --geometric`), which also delta-compresses the versions of a file or
/// folder against each other — far better than zlib could one by one, so:
/// - trees are stored uncompressed (zlib level 0): a tree is 40% object ids, which do not
///   compress; the listing of an image folder at a million images (190 KB) shrinks to 70% for
///   4 ms of zlib, a fifth of the commit;
/// - so are blobs of 256 KB to 4 MB (a rows file of thousands of lines), which cost ~10 ms a MB
///   to compress. Past a few MB, raw copies would fill the disk and the repacks faster than they
///   save time, so those are compressed at git's level for loose objects (1, best speed), as are
///   small blobs.
struct ObjectPack {
    /// How the names of a pack and an index being written begin (in `.git/objects/pack`, beside
    /// git's own `tmp_pack_` and `tmp_idx_`).
    static let temporaryPrefix = "tmp_drover_"

    /// The names a pack and its index have while written (``write(to:)``): they end in neither
    /// `.pack` nor `.idx`, so that no git command — a background repack above all — takes them
    /// for a pack.
    static func temporaryNames(_ number: UInt64) -> (pack: String, index: String) {
        (temporaryPrefix + "\(number)_pack", temporaryPrefix + "\(number)_idx")
    }

    /// Blobs of this many bytes are stored uncompressed.
    static let storedUncompressed = (256 << 10)..<(4 << 20)

    /// A git object's kind, as a pack numbers it.
    enum Kind: UInt8 {
        case commit = 1, tree = 2, blob = 3

        var name: String {
            switch self {
            case .commit: "commit"
            case .tree: "tree"
            case .blob: "blob"
            }
        }
    }

    /// Where each object is in ``bytes``, and the CRC-32 of its entry there (header and data).
    private var objects: [(id: [UInt8], offset: Int, crc: UInt32)] = []
    private var ids: Set<[UInt8]> = []
    /// The pack so far: its 12-byte header (whose object count is written last), then the entries.
    private var bytes: [UInt8] = Array("PACK".utf8) + [0, 0, 0, 2, 0, 0, 0, 0]

    /// The pack's size so far, in bytes.
    var size: Int { bytes.count }

    /// Adds an object (once, however often it is added).
    /// - Returns: its id, 40 lowercase hex digits.
    mutating func add(_ kind: Kind, _ content: some Collection<UInt8>) throws -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: Array("\(kind.name) \(content.count)\0".utf8))
        let data = Array(content)
        hasher.update(data: data)
        let id = Array(hasher.finalize())
        guard ids.insert(id).inserted else { return Hex.encode(id) }
        let start = bytes.count
        // The entry's header: type and size, 4 bits of the size first, then 7 at a time.
        var size = data.count
        var byte = kind.rawValue << 4 | UInt8(size & 0x0F)
        size >>= 4
        while size > 0 {
            bytes.append(byte | 0x80)
            byte = UInt8(size & 0x7F)
            size >>= 7
        }
        bytes.append(byte)
        try Self.deflate(data, level: kind == .tree || Self.storedUncompressed.contains(data.count) ? 0 : 1, appendingTo: &bytes)
        let crc = bytes[start...].withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, z_size_t($0.count))) }
        objects.append((id, start, crc))
        return Hex.encode(id)
    }

    /// Writes the pack and its index into `directory` (`.git/objects/pack`), durably: beside
    /// their final names, synced, renamed into place (the index last: git finds packs by their
    /// index), and the folder synced. After it, a ref may name the objects.
    func write(to directory: String) throws {
        var pack = bytes
        pack.replaceSubrange(8..<12, with: Self.bigEndian32(UInt32(objects.count)))
        let checksum = Array(Insecure.SHA1.hash(data: pack))
        pack += checksum
        let index = self.index(packChecksum: checksum)
        let name = directory + "/pack-" + Hex.encode(checksum)
        let names = Self.temporaryNames(UInt64.random(in: 0...UInt64.max))
        let (temporaryPack, temporaryIndex) = (directory + "/" + names.pack, directory + "/" + names.index)
        do {
            try FileIO.write(pack, to: temporaryPack, mode: 0o444, exclusive: true)
            try FileIO.write(index, to: temporaryIndex, mode: 0o444, exclusive: true)
            try FileIO.sync([temporaryPack, temporaryIndex])
            guard rename(temporaryPack, name + ".pack") == 0 else { throw GitWriteError("cannot store pack \(name) (errno \(errno))") }
            guard rename(temporaryIndex, name + ".idx") == 0 else {
                let error = GitWriteError("cannot store pack index \(name) (errno \(errno))")
                // A pack without its index is one git never reads; unless the same pack (same
                // checksum) was stored before, with its index.
                if access(name + ".idx", F_OK) != 0 { unlink(name + ".pack") }
                throw error
            }
        } catch {
            unlink(temporaryPack)
            unlink(temporaryIndex)
            throw error
        }
        try FileIO.sync(directory)
    }

    /// The pack's `.idx` (version 2): a fan-out table of how many ids start with each byte or
    /// less, the ids in order, their entries' CRC-32s, their offsets (those past 2 GB in a
    /// table of 64-bit ones), the pack's checksum, and its own.
    private func index(packChecksum: [UInt8]) -> [UInt8] {
        let sorted = objects.sorted { $0.id.lexicographicallyPrecedes($1.id) }
        var out: [UInt8] = [0xFF, 0x74, 0x4F, 0x63, 0, 0, 0, 2]
        var fanout = [UInt32](repeating: 0, count: 256)
        for object in sorted { fanout[Int(object.id[0])] += 1 }
        var total: UInt32 = 0
        for count in fanout {
            total += count
            out += Self.bigEndian32(total)
        }
        for object in sorted { out += object.id }
        for object in sorted { out += Self.bigEndian32(object.crc) }
        var large: [UInt8] = []
        for object in sorted {
            if object.offset < 0x8000_0000 {
                out += Self.bigEndian32(UInt32(object.offset))
            } else {
                out += Self.bigEndian32(0x8000_0000 | UInt32(large.count / 8))
                large += Self.bigEndian32(UInt32(object.offset >> 32)) + Self.bigEndian32(UInt32(object.offset & 0xFFFF_FFFF))
            }
        }
        out += large + packChecksum
        out += Insecure.SHA1.hash(data: out)
        return out
    }

    private static func bigEndian32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func deflate(_ data: [UInt8], level: Int32, appendingTo out: inout [UInt8]) throws {
        var capacity = compressBound(uLong(data.count))
        let start = out.count
        out += repeatElement(0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { target in
            data.withUnsafeBufferPointer { source in
                compress2(target.baseAddress! + start, &capacity, source.baseAddress, uLong(data.count), level)
            }
        }
        guard status == Z_OK else { throw GitWriteError("zlib failed (\(status))") }
        out.removeLast(out.count - start - Int(capacity))
    }
}

/// The dataset's repository could not be written; the message says where.
public struct GitWriteError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
