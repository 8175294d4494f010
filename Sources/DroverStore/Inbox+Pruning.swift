import FoundationEssentials
import GRDB

extension Inbox {
    /// How long a handled item is kept: its idempotency key drops redeliveries (Slack retries
    /// within the hour) for that long. Items set aside as failed are kept for inspection.
    public static let retention: Duration = .seconds(7 * 24 * 3_600)

    /// Deletes up to `limit` items that were handled before `cutoff`, in one short transaction.
    /// - Returns: how many were deleted; fewer than `limit` means none is left.
    public func pruneHandled(before cutoff: Date, limit: Int) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: """
                    DELETE FROM inboxItem WHERE id IN (
                        SELECT id FROM inboxItem WHERE state = 'done' AND finishedAt < ? ORDER BY id LIMIT ?
                    )
                    """,
                arguments: [cutoff, limit]
            )
            return db.changesCount
        }
    }
}
