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
/// One writer per ``Ledger``, shared by every ``Inbox`` made from it.
final class InboxWriter: Sendable {
    /// At most this many items in one transaction.
    static let maxBatch = 256

    private struct Waiting {
        var item: InboxItem
        var continuation: CheckedContinuation<Inbox.Acceptance, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    private let database: DatabasePool
    private let state = Mutex(State())
    /// Where transactions are written: never a thread of Swift's cooperative pool, which a
    /// synced commit would block.
    private let queue = DispatchQueue(label: "drover.inbox-writer")
    /// How many grouped transactions committed (for tests and diagnostics).
    let transactionsCommitted = Atomic<Int>(0)

    init(database: DatabasePool) {
        self.database = database
    }

    /// Stores `item` unless its key is stored already; returns once that is durable.
    func accept(_ item: InboxItem) async throws -> Inbox.Acceptance {
        try await withCheckedThrowingContinuation { continuation in
            let startsWriting = state.withLock { state in
                state.waiting.append(Waiting(item: item, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startsWriting {
                queue.async { self.drain() }
            }
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
        do {
            let acceptances = try database.write { db in try batch.map { try Self.insert($0.item, in: db) } }
            transactionsCommitted.add(1, ordering: .relaxed)
            for (waiting, acceptance) in zip(batch, acceptances) {
                waiting.continuation.resume(returning: acceptance)
            }
        } catch {
            guard batch.count > 1 else { return batch[0].continuation.resume(throwing: error) }
            // Each item in a transaction of its own, so that one bad item fails only its caller.
            for waiting in batch {
                waiting.continuation.resume(with: Result { try database.write { try Self.insert(waiting.item, in: $0) } })
            }
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
