import Dispatch
import Foundation
import Synchronization

/// Whole-file reads and writes with plain POSIX calls: on Linux several times faster than
/// Foundation's (`Data.write`, `FileManager.createFile`), which matters on the commit path.
public enum FileIO {
    /// Writes `bytes` to a new file at `path`. A file this call created is removed again if
    /// writing it fails, so that a half-written file (or a lock file) is never left behind.
    /// - Parameters:
    ///   - exclusive: fail with ``FileExistsError`` if the file exists (`O_EXCL`), else replace its contents.
    ///   - durable: `fsync` the file before returning, so that its bytes survive a power cut
    ///     (its name still needs its directory synced, ``sync(_:)-(String)``).
    public static func write(_ bytes: some ContiguousBytes, to path: String, mode: mode_t = 0o644, exclusive: Bool = false, durable: Bool = false) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), mode)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw FileExistsError(path: path) }
            throw GitWriteError("cannot create \(path) (errno \(errno))")
        }
        defer { close(descriptor) }
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    guard written > 0 else { throw GitWriteError("cannot write \(path) (errno \(errno))") }
                    offset += written
                }
            }
            if durable, fsync(descriptor) != 0 { throw GitWriteError("cannot sync \(path) (errno \(errno))") }
        } catch {
            if exclusive { unlink(path) }
            throw error
        }
    }

    /// `fsync`s files and directories (a directory's sync makes the names created, renamed or
    /// removed in it durable), concurrently: the filesystem serves them in few journal commits.
    public static func sync(_ paths: [String]) throws {
        guard paths.count > 1 else { return try paths.first.map(sync) ?? () }
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        for path in paths {
            syncQueue.async(group: group) {
                do { try sync(path) } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        group.wait()
        if let failure = failures.withLock({ $0.first }) { throw GitWriteError(failure) }
    }

    /// `fsync`s one file or directory.
    public static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw GitWriteError("cannot open \(path) (errno \(errno))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw GitWriteError("cannot sync \(path) (errno \(errno))") }
    }

    /// Where ``sync(_:)-([String])`` waits: a queue that starts a thread per waiting `fsync`.
    private static let syncQueue = DispatchQueue(label: "drover.fsync", attributes: .concurrent)

    /// Appends `bytes` to the file at `path`, creating it if needed.
    public static func append(_ bytes: some ContiguousBytes, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw GitWriteError("cannot open \(path) (errno \(errno))") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.withUnsafeBytes(\.count) else { throw GitWriteError("cannot append to \(path)") }
    }

    /// The whole file at `path`; `nil` if it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw GitWriteError("cannot open \(path) (errno \(errno))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw GitWriteError("cannot stat \(path)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard count > 0 else { break }
            offset += count
        }
        return Array(bytes.prefix(offset))
    }
}

/// ``FileIO/write(_:to:mode:exclusive:durable:)`` found the file it was to create (a lock held).
public struct FileExistsError: Error, CustomStringConvertible {
    public var path: String
    public var description: String { "\(path) exists" }
}
