import Dispatch
import FoundationEssentials
import GRDB
import Synchronization

/// Group commit for the inbox: concurrent ``Inbox/accept(idempotencyKey:kind:payload:at:)`` calls
/// share one SQLite write transaction, and so one fsync, instead of one each.
///
/// Items wait while a transaction is being written; when it commits, everything that arrived in
/// the meantime (up to ``maxBatch``) goes into the next one. An idle writer starts at once, so a
/// lone delivery waits for no timer. Each caller is answered only after the transaction holding
/// its item committed, with the same ``Inbox/Acceptance`` it would get alone: items are inserted
/// in arrival order, so of several with one key the first is `.accepted` and the rest
/// `.duplicate`. If a grouped transaction fails, each of its items is retried in a transaction of
/// its own, so that one bad item fails only its own caller.
///
/// An item may come with a handler, run in the same transaction right after the item is
/// inserted (never for a duplicate): its writes and the item, stored as done, commit together. If
/// a handler throws, the group is written again with each handler in a savepoint of its own:
/// the failing one is rolled back alone and its item stored pending, for its lane to try again.
///
/// One writer per ``Ledger``, shared by every ``Inbox`` made from it.
@usableFromInline
final class InboxWriter: Sendable {
    /// At most this many items in one transaction.
    static let maxBatch = 256

    /// Handles a newly inserted item inside the transaction that stores it.
    @usableFromInline
    typealias Handler = @Sendable (Database) throws -> Void

    /// What storing one item did.
    @usableFromInline
    enum Stored: Equatable {
        /// Newly stored, pending: it has no handler, or its handler failed.
        case pending
        /// Newly stored together with its handler's writes, done.
        case handled
        /// Stored before: nothing was written.
        case duplicate

        var acceptance: Inbox.Acceptance { self == .duplicate ? .duplicate : .accepted }
    }

    private struct Waiting {
        var item: InboxItem
        var handler: Handler?
        var answer: @Sendable (Result<Stored, any Error>) -> Void
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    private let database: DatabasePool
    private let state = Mutex(State())
    /// Where transactions are written: never a thread of Swift's cooperative pool.
    private let queue = DispatchQueue(label: "drover.inbox-writer")
    /// How many grouped transactions committed (for tests and diagnostics).
    let transactionsCommitted = Atomic<Int>(0)

    init(database: DatabasePool) {
        self.database = database
    }

    /// Stores `item` unless its key is stored already; returns once that is durable.
    func accept(_ item: InboxItem) async throws -> Inbox.Acceptance {
        try await withCheckedThrowingContinuation { continuation in
            submit(item) { continuation.resume(with: $0) }
        }
    }

    /// The same, blocking the calling thread until the item's transaction committed.
    func acceptBlocking(_ item: InboxItem) throws -> Inbox.Acceptance {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Inbox.Acceptance, any Error>?>(nil)
        submit(item) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Queues `item`; `answer` is called on the writer's queue once its transaction committed.
    func submit(_ item: InboxItem, answer: @escaping @Sendable (Result<Inbox.Acceptance, any Error>) -> Void) {
        submit(item, handler: nil) { answer($0.map(\.acceptance)) }
    }

    /// ``submit(_:answer:)`` for an item whose `handler` runs inside that transaction if the item
    /// is new (see the type's documentation).
    @usableFromInline
    func submit(_ item: InboxItem, handler: Handler?, answer: @escaping @Sendable (Result<Stored, any Error>) -> Void) {
        let startsWriting = state.withLock { state in
            state.waiting.append(Waiting(item: item, handler: handler, answer: answer))
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        if startsWriting {
            queue.async { self.drain() }
        }
    }

    /// Writes batches until nothing waits.
    private func drain() {
        while true {
            let batch: [Waiting] = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.writing = false
                    return []
                }
                let count = min(Self.maxBatch, state.waiting.count)
                let batch = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            write(batch)
        }
    }

    private func write(_ batch: [Waiting]) {
        let hasHandlers = batch.contains { $0.handler != nil }
        do {
            return answer(batch, with: try database.write { db in try batch.map { try Self.store($0, in: db) } })
        } catch where hasHandlers {
            // A handler threw: the group again, with each handler in a savepoint of its own.
            if let stored = try? database.write({ db in try batch.map { try Self.storeIsolated($0, in: db) } }) {
                return answer(batch, with: stored)
            }
        } catch {
            guard batch.count > 1 else { return batch[0].answer(.failure(error)) }
        }
        // Something else failed: each item in a transaction of its own.
        for waiting in batch {
            waiting.answer(Result { try database.write { try Self.storeIsolated(waiting, in: $0) } })
        }
    }

    private func answer(_ batch: [Waiting], with stored: [Stored]) {
        transactionsCommitted.add(1, ordering: .relaxed)
        for (waiting, stored) in zip(batch, stored) {
            waiting.answer(.success(stored))
        }
    }

    /// Inserts the item, handled (and so done) if it has a handler: a handler's error fails the
    /// whole transaction.
    private static func store(_ waiting: Waiting, in db: Database) throws -> Stored {
        guard let handler = waiting.handler else { return try insert(waiting.item, in: db) == .accepted ? .pending : .duplicate }
        var done = waiting.item
        done.state = .done
        done.finishedAt = done.receivedAt
        guard try insert(done, in: db) == .accepted else { return .duplicate }
        try handler(db)
        return .handled
    }

    /// ``store(_:in:)`` with the item's handler in a savepoint: if anything there fails, it is
    /// rolled back alone and the item is stored pending instead, its failed attempt counted.
    private static func storeIsolated(_ waiting: Waiting, in db: Database) throws -> Stored {
        guard waiting.handler != nil else { return try store(waiting, in: db) }
        var stored = Stored.duplicate
        do {
            try db.inSavepoint {
                stored = try store(waiting, in: db)
                return .commit
            }
            return stored
        } catch {
            var failed = waiting.item
            failed.attempts = 1
            failed.lastError = String("\(error)".prefix(1_000))
            return try insert(failed, in: db) == .accepted ? .pending : .duplicate
        }
    }

    static func insert(_ item: InboxItem, in db: Database) throws -> Inbox.Acceptance {
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO inboxItem (idempotencyKey, kind, payload, state, attempts, receivedAt, finishedAt, lastError)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                item.idempotencyKey, item.kind, item.payload, item.state, item.attempts, item.receivedAt.databaseText,
                item.finishedAt?.databaseText, item.lastError,
            ])
        return db.changesCount > 0 ? .accepted : .duplicate
    }
}
