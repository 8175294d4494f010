import FoundationEssentials
import GRDB

extension Inbox {
    /// The oldest pending items of `kinds`, at most `limit`, read without leasing them: for a
    /// worker that applies a batch and marks each item done in one transaction of its own
    /// (``completeIfPending(_:in:at:)``), so that a crash leaves every item of the batch pending.
    public func pending(kinds: Set<String>, limit: Int) throws -> [InboxItem] {
        let placeholders = Array(repeating: "?", count: kinds.count).joined(separator: ", ")
        let sql = "SELECT * FROM inboxItem WHERE state = 'pending' AND kind IN (\(placeholders)) ORDER BY id LIMIT ?"
        return try database.read { db in
            try InboxItem.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(kinds.sorted() + [String(limit)]))
        }
    }

    /// Marks `item` done inside `db`'s transaction if it is still pending.
    /// - Returns: `false` when it is not pending any more (then nothing was written).
    static func completeIfPending(_ item: InboxItem, in db: Database, at now: Date = Date()) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE inboxItem SET state = 'done', finishedAt = ?, lastError = NULL WHERE id = ? AND state = 'pending'")
            .execute(arguments: [now.databaseText, item.id])
        return db.changesCount == 1
    }
}
