import FoundationEssentials
import GRDB
import Synchronization

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
    @usableFromInline
    let writer: InboxWriter

    public init(ledger: Ledger) {
        self.database = ledger.database
        self.writer = ledger.inboxWriter
    }

    /// Stores an item durably, unless one with the same key exists; returns once the transaction
    /// holding it committed. Concurrent calls share transactions (group commit, ``InboxWriter``).
    /// Blocks the calling thread: from async code prefer
    /// ``acceptAsync(idempotencyKey:kind:payload:at:)``, which lets many deliveries share one commit.
    public func accept(idempotencyKey: String, kind: String, payload: Data, at now: Date = Date()) throws -> Acceptance {
        try writer.acceptBlocking(Self.newItem(idempotencyKey: idempotencyKey, kind: kind, payload: payload, at: now))
    }

    /// ``accept(idempotencyKey:kind:payload:at:)`` that suspends instead of blocking a thread while
    /// its group's transaction commits.
    public func acceptAsync(idempotencyKey: String, kind: String, payload: Data, at now: Date = Date()) async throws -> Acceptance {
        try await writer.accept(Self.newItem(idempotencyKey: idempotencyKey, kind: kind, payload: payload, at: now))
    }

    /// ``accept(idempotencyKey:kind:payload:at:)`` for a caller that may neither block nor
    /// suspend (a NIO event loop): `completion` is called once, on the writer's thread, after the
    /// transaction holding the item committed (or failed).
    public func accept(
        idempotencyKey: String, kind: String, payload: Data, at now: Date = Date(),
        completion: @escaping @Sendable (Result<Acceptance, any Error>) -> Void
    ) {
        writer.submit(Self.newItem(idempotencyKey: idempotencyKey, kind: kind, payload: payload, at: now), answer: completion)
    }

    /// What became of an item stored with a handler
    /// (``accept(idempotencyKey:kind:payload:at:handler:completion:)``).
    public enum Handling<Outcome: Sendable>: Sendable {
        /// Newly stored and handled in the same transaction: the item is done.
        case handled(Outcome)
        /// Newly stored, but the handler failed: its writes were rolled back and the item is
        /// pending, for its lane to try again.
        case deferred
        /// An item with this key was stored before: nothing was written, nothing handled.
        case duplicate
    }

    /// ``accept(idempotencyKey:kind:payload:at:completion:)`` that also handles a new item in the
    /// transaction that stores it, so that its effects and its acknowledgement need one commit,
    /// not two: `handler` runs right after the insert, and if it returns, its writes and the item,
    /// stored as done, commit together. If it throws, they are rolled back and the item is stored
    /// pending (one attempt counted) instead, for its lane. `handler` may run more than once (a
    /// group whose transaction failed is written again); only the committed run counts.
    /// `completion` is called once, on the writer's thread, after the commit. (Inlinable so that
    /// callers get it specialized: it is on every Slack reaction's path.)
    @inlinable
    public func accept<Outcome: Sendable>(
        idempotencyKey: String, kind: String, payload: Data, at now: Date = Date(),
        handler: @escaping @Sendable (Database) throws -> Outcome,
        completion: @escaping @Sendable (Result<Handling<Outcome>, any Error>) -> Void
    ) {
        let outcome = CommittedOutcome<Outcome>()
        writer.submit(Self.newItem(idempotencyKey: idempotencyKey, kind: kind, payload: payload, at: now)) { db in
            outcome.value.withLock { $0 = nil }
            let value = try handler(db)
            outcome.value.withLock { $0 = value }
        } answer: { result in
            completion(result.map { stored in
                switch stored {
                case .handled: outcome.value.withLock { $0 }.map { .handled($0) } ?? .deferred
                case .pending: .deferred
                case .duplicate: .duplicate
                }
            })
        }
    }

    @usableFromInline
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

    /// Marks `item` done inside the transaction that applied its effects, so that effects and
    /// completion commit together or not at all.
    public static func complete(_ item: InboxItem, in db: Database, at now: Date = Date()) throws {
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
    public static func recordFailure(of item: InboxItem, error: String, in db: Database, at now: Date = Date()) throws {
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

/// A handler's outcome, carried from the writer's transaction to its answer: read only when the
/// item is stored handled, and then it is the committed run's, the last one (the writer runs
/// handlers and answers on one thread, in order).
@usableFromInline
final class CommittedOutcome<Value: Sendable>: Sendable {
    @usableFromInline
    let value = Mutex<Value?>(nil)

    @inlinable
    init() {}
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
