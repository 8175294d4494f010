import DroverCore
import DroverStore
import Logging

extension Committer {
    /// Gets a change set that a command (`drover revert`, `drover import`) recorded in the
    /// ledger into the dataset, without ever making a second writer:
    ///
    /// - no server runs (the ``DatasetLock`` is free): the command takes the lock and runs a
    ///   committer pass itself, as `drover serve` does at start;
    /// - a server runs (it holds the lock): its committer finds the change set when it next
    ///   checks the ledger, and the command waits for that.
    /// - Returns: the commits that hold the change set.
    /// - Throws: ``CommitWaitTimedOut`` if the server's committer has not committed it in time
    ///   (it stays in the ledger and is committed later).
    public static func commit(
        changeSet id: Int64, ledger: Ledger, datasetDirectory: String, timeout: Duration = .seconds(60), logger: Logger
    ) async throws -> [String] {
        do {
            let repository = try await DatasetRepository.open(at: datasetDirectory)
            try await Committer(ledger: ledger, repository: repository, doorbell: Doorbell(), logger: logger).commitPending()
        } catch is DatasetLockedError {
            logger.info("a server holds the dataset; waiting for its committer")
            let deadline = ContinuousClock.now + timeout
            while try ledger.commits(of: id) == nil {
                guard ContinuousClock.now < deadline else { throw CommitWaitTimedOut(timeout: timeout) }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return try ledger.commits(of: id) ?? []
    }
}

/// The running server did not commit a change set in time; it is recorded and will be committed.
public struct CommitWaitTimedOut: Error, CustomStringConvertible {
    public var timeout: Duration

    public var description: String {
        "recorded, but the running server has not committed it within \(timeout); it will"
    }
}
