import FoundationEssentials
import GRDB

extension Inbox {
    /// The oldest pending items of `kinds`, at most `limit`, read without leasing them: for a
    /// worker that applies a batch and marks each item done in one transaction of its own
    /// (``completeIfPending(_:in:at:)``), so that a crash leaves every item of the batch pending.
    public func pending(kinds: Set<String>, limit: Int) throws -> [InboxItem] {
        try database.read { db in
            try InboxItem
                .filter(Column("state") == InboxItem.State.pending && kinds.contains(Column("kind")))
                .order(Column("id"))
                .limit(limit)
                .fetchAll(db)
        }
    }

    /// Marks `item` done inside `db`'s transaction if it is still pending.
    /// - Returns: `false` when it is not pending any more (then nothing was written).
    public static func completeIfPending(_ item: InboxItem, in db: Database, at now: Date = Date()) throws -> Bool {
        try db.execute(
            sql: "UPDATE inboxItem SET state = 'done', finishedAt = ?, lastError = NULL WHERE id = ? AND state = 'pending'",
            arguments: [now, item.id]
        )
        return db.changesCount == 1
    }
}
