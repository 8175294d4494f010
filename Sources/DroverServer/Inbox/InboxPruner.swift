import DroverStore
import Foundation
import Logging
import ServiceLifecycle

/// Keeps the inbox from growing without end: every hour, items handled more than
/// ``Inbox/retention`` ago are deleted, a few thousand per transaction so that acknowledgements
/// never wait long for the ledger.
struct InboxPruner: Service {
    let inbox: Inbox
    let logger: Logger
    var interval: Duration = .seconds(3_600)
    /// Items deleted per transaction.
    var batch = 5_000

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await prune()
                } catch {
                    logger.warning("could not prune the inbox; will try again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    private func prune() async throws {
        let cutoff = Date().addingTimeInterval(-Inbox.retention.seconds)
        var total = 0
        while !Task.isCancelled {
            let deleted = try inbox.pruneHandled(before: cutoff, limit: batch)
            total += deleted
            if deleted < batch { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        if total > 0 { logger.info("pruned handled inbox items", metadata: ["count": "\(total)"]) }
    }
}
