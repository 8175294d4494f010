import FoundationEssentials
import GRDB

/// Something that arrived and must be handled exactly once: a vote, a Slack event, a command.
public struct InboxItem: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "inboxItem"

    /// Where an item is in its life.
    public enum State: String, Codable, Sendable, DatabaseValueConvertible {
        case pending, running, done, failed
    }

    public var id: Int64?
    /// Unique per delivery: a retried delivery carries the same key and is dropped.
    public var idempotencyKey: String
    /// What handles it, e.g. `web-vote`.
    public var kind: String
    public var payload: Data
    public var state: State
    public var attempts: Int
    public var leaseExpiresAt: Date?
    public var receivedAt: Date
    public var finishedAt: Date?
    public var lastError: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension InboxItem {
    /// Decodes a row by column name: faster than `Decodable`, and the worker reads many.
    public init(row: Row) throws {
        id = row["id"]
        idempotencyKey = row["idempotencyKey"]
        kind = row["kind"]
        payload = row["payload"]
        state = row["state"]
        attempts = row["attempts"]
        leaseExpiresAt = row["leaseExpiresAt"]
        receivedAt = row["receivedAt"]
        finishedAt = row["finishedAt"]
        lastError = row["lastError"]
    }
}

/// The durable inbox: items are written here before they are acknowledged, then taken in order
/// by one worker under a lease, so that an item left running by a crash is taken again.
public struct Inbox: Sendable {
    /// What ``accept(idempotencyKey:kind:payload:at:)`` did.
    public enum Acceptance: Equatable, Sendable {
        /// Newly stored.
        case accepted
        /// An item with this key was stored before: nothing was written.
        case duplicate
    }

    /// How many times an item is tried before it is set aside as failed.
    public static let maxAttempts = 5

    let database: DatabasePool
    let writer: InboxWriter

    public init(ledger: Ledger) {
        self.database = ledger.database
        self.writer = ledger.inboxWriter
    }

    /// Stores an item durably, unless one with the same key exists; returns once the transaction
    /// holding it committed. Concurrent calls share transactions (group commit, ``InboxWriter``).
    public func accept(idempotencyKey: String, kind: String, payload: Data, at now: Date = Date()) async throws -> Acceptance {
        try await writer.accept(Self.newItem(idempotencyKey: idempotencyKey, kind: kind, payload: payload, at: now))
    }

    static func newItem(idempotencyKey: String, kind: String, payload: Data, at now: Date) -> InboxItem {
        InboxItem(
            idempotencyKey: idempotencyKey, kind: kind, payload: payload, state: .pending, attempts: 0,
            leaseExpiresAt: nil, receivedAt: now, finishedAt: nil, lastError: nil
        )
    }

    /// Takes the oldest item of one of `kinds` (any kind if `nil`) that is pending, or whose
    /// lease ran out, and leases it.
    public func claimNext(kinds: Set<String>? = nil, leaseDuration: Duration, at now: Date = Date()) throws -> InboxItem? {
        try database.write { db in
            var open = InboxItem
                .filter(Column("state") == InboxItem.State.pending
                    || (Column("state") == InboxItem.State.running && Column("leaseExpiresAt") < now))
            if let kinds { open = open.filter(kinds.contains(Column("kind"))) }
            let next = try open
                .order(Column("id"))
                .fetchOne(db)
            guard var item = next else { return nil }
            item.state = .running
            item.attempts += 1
            item.leaseExpiresAt = now.addingTimeInterval(leaseDuration.seconds)
            try item.update(db)
            return item
        }
    }

    /// Marks a claimed item done, once its effects are stored.
    public func complete(_ item: InboxItem, at now: Date = Date()) async throws {
        try await database.write { db in try Self.complete(item, in: db, at: now) }
    }

    /// Marks `item` done inside the transaction that applied its effects, so that effects and
    /// completion commit together or not at all.
    static func complete(_ item: InboxItem, in db: Database, at now: Date = Date()) throws {
        try db.execute(
            sql: "UPDATE inboxItem SET state = 'done', finishedAt = ?, leaseExpiresAt = NULL, lastError = NULL WHERE id = ?",
            arguments: [now, item.id]
        )
    }

    /// Records a failed attempt: the item goes back to pending, or to failed after ``maxAttempts``.
    public func recordFailure(of item: InboxItem, error: String, at now: Date = Date()) throws {
        try database.write { db in try Self.recordFailure(of: item, error: error, in: db, at: now) }
    }

    /// ``recordFailure(of:error:at:)`` inside `db`'s transaction; `item.attempts` counts the
    /// attempt that failed.
    static func recordFailure(of item: InboxItem, error: String, in db: Database, at now: Date = Date()) throws {
        let state: InboxItem.State = item.attempts >= maxAttempts ? .failed : .pending
        try db.execute(
            sql: "UPDATE inboxItem SET state = ?, attempts = ?, lastError = ?, leaseExpiresAt = NULL, finishedAt = ? WHERE id = ?",
            arguments: [state, item.attempts, String(error.prefix(1_000)), state == .failed ? now : nil, item.id]
        )
    }

    /// Puts every running item of `kinds` back to pending: at start, whatever was running was
    /// interrupted.
    /// - Returns: how many items were taken back.
    @discardableResult
    public func releaseInterrupted(kinds: Set<String>) throws -> Int {
        try database.write { db in
            try InboxItem
                .filter(Column("state") == InboxItem.State.running && kinds.contains(Column("kind")))
                .updateAll(db, Column("state").set(to: InboxItem.State.pending), Column("leaseExpiresAt").set(to: nil))
        }
    }

    /// Items waiting or running.
    public func depth() throws -> Int {
        try database.read { db in
            try InboxItem.filter(["pending", "running"].contains(Column("state"))).fetchCount(db)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
