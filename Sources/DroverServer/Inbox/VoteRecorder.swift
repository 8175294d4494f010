import DroverCore
import DroverStore
import GRDB

/// Applies a vote from an inbox item: the vote and the item's completion in one transaction,
/// then the committer and the Slack tallies are told.
struct VoteRecorder: Sendable {
    let ledger: Ledger
    let committerDoorbell: Doorbell
    let metrics: DroverMetrics
    /// Refreshes the 👍 / 👎 counts on Slack messages; `nil` without Slack.
    let tallies: TallyUpdater?

    /// - Parameter command: the vote to apply, decided inside the transaction (it may read the
    ///   rater's current rating); `nil` applies nothing and just completes the item.
    func record(_ item: InboxItem, _ command: @Sendable (Database) throws -> VoteCommand?) async throws {
        let event = try await ledger.database.write { db -> VoteEventRecord? in
            let event = try command(db).flatMap { try Ledger.apply($0, in: db) }
            try Inbox.complete(item, in: db)
            return event
        }
        guard let event else { return }
        metrics.vote(source: event.source)
        committerDoorbell.ring()
        await tallies?.schedule(event.imageID)
    }
}
