import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dataset's writer lock: an exclusive `flock` on `<dataset>.lock`, held by whoever may
/// write the repository — the committer of a running `drover serve`, or a command (`drover
/// revert`, `drover import`) that commits itself because no server is running. The kernel
/// releases it when its holder exits, however it exits, so a crash never leaves it behind.
public final class DatasetLock: Sendable {
    private let descriptor: Int32
    /// The lock file.
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    /// The lock file of the repository at `datasetDirectory`: beside it, `<dataset>.lock`.
    public static func path(for datasetDirectory: String) -> String {
        var directory = datasetDirectory
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        return directory + ".lock"
    }

    /// Takes the lock without waiting.
    /// - Throws: ``DatasetLockedError`` if another holder has it (in this process or another).
    public static func acquire(for datasetDirectory: String) throws -> DatasetLock {
        let path = path(for: datasetDirectory)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw DatasetLockedError(path: path)
        }
        let note = "pid \(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = note.withCString { write(descriptor, $0, strlen($0)) }
        return DatasetLock(descriptor: descriptor, path: path)
    }
}

/// Another writer holds the dataset: a running `drover serve`, or another command committing.
public struct DatasetLockedError: Error, CustomStringConvertible {
    public var path: String

    public var description: String {
        "another Drover process is writing this dataset (it holds \(path))"
    }
}
