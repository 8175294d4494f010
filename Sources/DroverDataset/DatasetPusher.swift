import DroverGit
import DroverCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Pushes the dataset's `main` to `DROVER_DATASET_REMOTE` in the background: after each commit
/// (the committer rings its doorbell), and again with growing pauses while a push fails. It
/// never holds up a vote or a commit: pushing only reads the repository, and commits made while
/// a push runs go out with the next one.
///
/// The remote's URL may carry a credential: it is never logged, and it is cut out of errors.
public final class DatasetPusher: Service {
    /// What the pusher has done, for `/healthz`.
    public struct Status: Sendable, Codable, Equatable {
        /// The commit the remote was last brought to.
        public var lastPushed: String?
        /// When that was (ISO 8601).
        public var lastPushedAt: String?
        /// Failed pushes since the last one that worked.
        public var failures: Int
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case failures
            case lastPushed = "last_pushed"
            case lastPushedAt = "last_pushed_at"
            case lastError = "last_error"
        }

        /// Every field is written, an absent one as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(lastPushed, forKey: .lastPushed)
            try container.encode(lastPushedAt, forKey: .lastPushedAt)
            try container.encode(failures, forKey: .failures)
            try container.encode(lastError, forKey: .lastError)
        }
    }

    private let git: Git
    private let remote: String
    /// Ring it after each commit: the committer's `afterCommit`.
    public let doorbell: Doorbell
    private let timeout: Duration
    private let maxBackoff: Duration
    private let logger: Logger
    private let state = Mutex(Status(lastPushed: nil, lastPushedAt: nil, failures: 0, lastError: nil))

    /// - Parameters:
    ///   - directory: the dataset repository.
    ///   - remote: any URL `git push` accepts.
    ///   - doorbell: rung after each commit.
    ///   - timeout: a push that takes longer is stopped and counts as failed.
    ///   - maxBackoff: the longest pause between retries (they start at one second and double).
    public init(
        directory: String, remote: String, doorbell: Doorbell = Doorbell(), timeout: Duration = .seconds(120),
        maxBackoff: Duration = .seconds(300), logger: Logger
    ) {
        self.git = Git(directory: directory)
        self.remote = remote
        self.doorbell = doorbell
        self.timeout = timeout
        self.maxBackoff = maxBackoff
        self.logger = logger
    }

    /// The pusher's state now.
    public var status: Status { state.withLock { $0 } }

    /// Pushes at start and after each ring of ``doorbell``, retrying failures, until graceful shutdown.
    public func run() async throws {
        await withGracefulShutdownHandler {
            var backoff = Duration.seconds(1)
            repeat {
                do {
                    try await push()
                    backoff = .seconds(1)
                } catch {
                    logger.warning("push failed; will retry", metadata: ["error": "\(error)", "retry_in_s": "\(backoff.components.seconds)"])
                    await doorbell.linger(for: backoff)
                    backoff = min(backoff * 2, maxBackoff)
                    doorbell.ring()
                }
            } while await doorbell.wait()
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
    }

    /// Pushes `main` now.
    /// - Returns: the commit pushed.
    /// - Throws: ``PushError`` if git cannot push (the remote is unreachable, or has commits the
    ///   dataset lacks).
    @discardableResult
    public func push() async throws -> String {
        do {
            let head = try await git.run(["rev-parse", "refs/heads/main"]).trimmingWhitespace()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [git, remote] in
                    try await git.run(["push", "--quiet", "--porcelain", remote, "refs/heads/main:refs/heads/main"])
                }
                group.addTask { [timeout] in
                    try await Task.sleep(for: timeout)
                    throw PushError(description: "the push took longer than \(timeout)")
                }
                try await group.next()
                group.cancelAll()
            }
            state.withLock {
                $0 = Status(lastPushed: head, lastPushedAt: Timestamp.iso8601(Date()), failures: 0, lastError: nil)
            }
            logger.debug("pushed", metadata: ["commit": "\(head.prefix(12))"])
            return head
        } catch {
            let failure = PushError(description: "\(error)".replacing(remote, with: "<remote>"))
            state.withLock {
                $0.failures += 1
                $0.lastError = failure.description
            }
            throw failure
        }
    }
}

/// A push that did not happen; the message never holds the remote's URL.
public struct PushError: Error, CustomStringConvertible {
    public var description: String
}
