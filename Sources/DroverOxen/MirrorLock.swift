import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One mirror per dataset at a time: an exclusive `flock` on `<dataset>-oxen.lock`, held by the
/// mirror of a running `drover serve` or by `drover oxen push`. Two mirrors at once could both
/// commit the same dataset commits to Oxen. The kernel releases it however its holder exits.
final class MirrorLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// The lock file for the dataset at `datasetDirectory`.
    static func path(for datasetDirectory: String) -> String {
        var directory = datasetDirectory
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        return directory + "-oxen.lock"
    }

    /// Takes the lock without waiting; `nil` if another mirror holds it.
    static func acquire(for datasetDirectory: String) throws -> MirrorLock? {
        let path = path(for: datasetDirectory)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw MirrorError("cannot open \(path) (errno \(errno))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        return MirrorLock(descriptor: descriptor)
    }
}

/// The mirror cannot go on for a reason of its own (not an answer of Oxen's).
public struct MirrorError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
