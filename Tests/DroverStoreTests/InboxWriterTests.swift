import Dispatch
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// Group commit of inbox writes (``InboxWriter``): concurrent accepts share transactions, yet each
/// caller gets the answer it would get alone, and only once its item is durable.
@Suite struct InboxGroupCommitTests {
    private func withLedger(_ body: (Ledger, String) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/drover.sqlite"
        try await body(try Ledger(path: path), path)
    }

    /// Keys stored in the file, read through a connection of its own.
    private func storedKeys(at path: String) throws -> [String: Int] {
        // Another connection, as another process would open it; it may meet the writer's locks.
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let keys = try queue.read { try String.fetchAll($0, sql: "SELECT idempotencyKey FROM inboxItem") }
        return keys.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    @Test func concurrentAcceptsWithDuplicatesGiveOneAcceptedPerKey() async throws {
        try await withLedger { ledger, path in
            let inbox = Inbox(ledger: ledger)
            let keys = (0..<50).map { "slack-event:Ev\($0)" }
            let results = try await withThrowingTaskGroup(of: (String, Inbox.Acceptance).self) { group in
                for copy in 0..<4 {
                    for key in keys {
                        group.addTask {
                            (key, try await inbox.acceptAsync(idempotencyKey: key, kind: "vote", payload: Data("\(copy)".utf8)))
                        }
                    }
                }
                return try await group.reduce(into: [(String, Inbox.Acceptance)]()) { $0.append($1) }
            }
            #expect(results.count == 200)
            let accepted = results.filter { $0.1 == .accepted }.map(\.0)
            #expect(accepted.sorted() == keys.sorted())
            #expect(results.filter { $0.1 == .duplicate }.count == 150)
            #expect(try storedKeys(at: path) == Dictionary(uniqueKeysWithValues: keys.map { ($0, 1) }))
            // They were grouped: fewer transactions than deliveries.
            #expect(ledger.inboxWriter.transactionsCommitted.load(ordering: .relaxed) < 200)
        }
    }

    @Test func eachItemIsDurableWhenAcceptReturns() async throws {
        try await withLedger { ledger, path in
            let inbox = Inbox(ledger: ledger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<64 {
                    group.addTask { () async throws in
                        let key = "k\(index)"
                        let acceptance = try await inbox.acceptAsync(idempotencyKey: key, kind: "vote", payload: Data())
                        #expect(acceptance == .accepted)
                        // Committed: another connection to the file sees it at once.
                        let stored = try storedKeys(at: path)[key]
                        #expect(stored == 1)
                    }
                }
                try await group.waitForAll()
            }
            // And a ledger opened afresh on the file has every one, pending for the worker.
            let reopened = try Ledger(path: path)
            #expect(try Inbox(ledger: reopened).depth() == 64)
        }
    }

    @Test func blockingAcceptsFromManyThreadsAreGroupedToo() async throws {
        try await withLedger { ledger, path in
            let inbox = Inbox(ledger: ledger)
            let outcomes = Mutex<[Inbox.Acceptance]>([])
            DispatchQueue.concurrentPerform(iterations: 40) { index in
                let result = try? inbox.accept(idempotencyKey: "key-\(index % 10)", kind: "vote", payload: Data())
                outcomes.withLock { $0.append(result ?? .duplicate) }
            }
            let all = outcomes.withLock { $0 }
            #expect(all.filter { $0 == .accepted }.count == 10)
            #expect(all.filter { $0 == .duplicate }.count == 30)
            let stored = try storedKeys(at: path)
            #expect(stored.count == 10)
        }
    }

    @Test func sameKeyInArrivalOrderKeepsTheFirstPayload() async throws {
        try await withLedger { ledger, _ in
            let inbox = Inbox(ledger: ledger)
            #expect(try await inbox.acceptAsync(idempotencyKey: "Ev1", kind: "vote", payload: Data("first".utf8)) == .accepted)
            #expect(try await inbox.acceptAsync(idempotencyKey: "Ev1", kind: "vote", payload: Data("second".utf8)) == .duplicate)
            #expect(try inbox.accept(idempotencyKey: "Ev1", kind: "vote", payload: Data("third".utf8)) == .duplicate)
            let item = try inbox.claimNext(leaseDuration: .seconds(30))
            #expect(item.map { String(decoding: $0.payload, as: UTF8.self) } == "first")
        }
    }

    /// Stores `key` with a handler whose effect is one row in a table of its own; `handler` may
    /// add to that (wait, throw).
    private func acceptHandled(
        _ inbox: Inbox, key: String, then handler: @escaping @Sendable () throws -> Void = {},
        completion: @escaping @Sendable (Result<Inbox.Handling<Int64>, any Error>) -> Void
    ) {
        inbox.accept(idempotencyKey: key, kind: "vote", payload: Data()) { db in
            try db.execute(sql: "INSERT INTO effect (key) VALUES (?)", arguments: [key])
            try handler()
            return db.lastInsertedRowID
        } completion: { completion($0) }
    }

    private func acceptHandled(_ inbox: Inbox, key: String) async throws -> Inbox.Handling<Int64> {
        try await withCheckedThrowingContinuation { continuation in
            acceptHandled(inbox, key: key) { continuation.resume(with: $0) }
        }
    }

    private func effects(_ ledger: Ledger) async throws -> [String] {
        try await ledger.database.read { try String.fetchAll($0, sql: "SELECT key FROM effect ORDER BY key") }
    }

    private struct HandlerFailure: Error, CustomStringConvertible {
        var description: String { "the handler failed" }
    }

    @Test func handledItemsAreStoredDoneWithTheirEffectsAndDuplicatesAreNotHandled() async throws {
        try await withLedger { ledger, path in
            try await ledger.database.write { try $0.execute(sql: "CREATE TABLE effect (key TEXT NOT NULL)") }
            let inbox = Inbox(ledger: ledger)
            let keys = (0..<40).map { "slack-event:Ev\($0)" }
            let results = try await withThrowingTaskGroup(of: (String, Inbox.Handling<Int64>).self) { group in
                for _ in 0..<3 {
                    for key in keys { group.addTask { (key, try await acceptHandled(inbox, key: key)) } }
                }
                return try await group.reduce(into: [(String, Inbox.Handling<Int64>)]()) { $0.append($1) }
            }
            var handled: [String] = []
            for (key, result) in results {
                if case .handled = result { handled.append(key) } else if case .duplicate = result {} else { Issue.record("\(key): \(result)") }
            }
            #expect(handled.sorted() == keys.sorted())
            #expect(try await effects(ledger) == keys.sorted(), "one effect per key: duplicates were not handled")
            #expect(try storedKeys(at: path) == Dictionary(uniqueKeysWithValues: keys.map { ($0, 1) }))
            #expect(try inbox.depth() == 0, "handled items are done, for no lane to take")
            #expect(ledger.inboxWriter.transactionsCommitted.load(ordering: .relaxed) < 120)
        }
    }

    /// One group: two handlers that succeed, one that throws, and one before it that succeeds in
    /// the group's first try but throws when the group is written again.
    @Test func aFailingHandlerIsRolledBackAloneAndTheRestOfItsGroupCommitsTogether() async throws {
        try await withLedger { ledger, _ in
            try await ledger.database.write { try $0.execute(sql: "CREATE TABLE effect (key TEXT NOT NULL)") }
            let inbox = Inbox(ledger: ledger)
            let results = Mutex<[String: Inbox.Handling<Int64>]>([:])
            let answered = DispatchSemaphore(value: 0)
            func accept(_ key: String, then handler: @escaping @Sendable () throws -> Void = {}) {
                acceptHandled(inbox, key: key, then: handler) { result in
                    results.withLock { $0[key] = try? result.get() }
                    answered.signal()
                }
            }
            // The first item holds the writer inside its transaction until the others wait.
            let started = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            accept("first") {
                started.signal()
                _ = release.wait(timeout: .now() + 30)
            }
            #expect(started.wait(timeout: .now() + 30) == .success)
            let committedBefore = ledger.inboxWriter.transactionsCommitted.load(ordering: .relaxed)
            let calls = Atomic<Int>(0)
            accept("a")
            accept("fails when retried") { if calls.add(1, ordering: .relaxed).newValue > 1 { throw HandlerFailure() } }
            accept("fails") { throw HandlerFailure() }
            accept("b")
            release.signal()
            for _ in 0..<5 { #expect(answered.wait(timeout: .now() + 30) == .success) }

            let answers = results.withLock { $0 }
            for key in ["first", "a", "b"] {
                guard case .handled = answers[key] else { Issue.record("\(key): \(String(describing: answers[key]))"); continue }
            }
            for key in ["fails", "fails when retried"] {
                guard case .deferred = answers[key] else { Issue.record("\(key): \(String(describing: answers[key]))"); continue }
            }
            #expect(try await effects(ledger) == ["a", "b", "first"], "the failed handlers' writes were rolled back")
            #expect(
                ledger.inboxWriter.transactionsCommitted.load(ordering: .relaxed) == committedBefore + 2,
                "the first item's transaction, then one for the rest of the group"
            )
            let pending = try inbox.pending(kinds: ["vote"], limit: 100)
            #expect(pending.map(\.idempotencyKey) == ["fails when retried", "fails"])
            #expect(calls.load(ordering: .relaxed) == 2)
            for item in pending {
                #expect(item.attempts == 1)
                #expect(item.lastError == "the handler failed")
            }
        }
    }

    @Test func inboxesOfOneLedgerShareItsWriter() async throws {
        try await withLedger { ledger, _ in
            #expect(Inbox(ledger: ledger).writer === Inbox(ledger: ledger).writer)
        }
    }
}

@Suite struct InboxPruningTests {
    @Test func onlyItemsHandledBeforeTheCutoffGo() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        for key in ["old-1", "old-2", "old-3", "recent", "pending", "failed"] {
            _ = try inbox.accept(idempotencyKey: key, kind: "vote", payload: Data())
        }
        let now = Date()
        try fixture.ledger.database.write { db in
            try db.execute(sql: "UPDATE inboxItem SET state = 'done', finishedAt = ? WHERE idempotencyKey LIKE 'old-%'", arguments: [now.addingTimeInterval(-8 * 86_400)])
            try db.execute(sql: "UPDATE inboxItem SET state = 'done', finishedAt = ? WHERE idempotencyKey = 'recent'", arguments: [now.addingTimeInterval(-60)])
            try db.execute(sql: "UPDATE inboxItem SET state = 'failed', finishedAt = ? WHERE idempotencyKey = 'failed'", arguments: [now.addingTimeInterval(-30 * 86_400)])
        }
        let cutoff = now.addingTimeInterval(-Inbox.retention.seconds)

        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 2)
        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 1)
        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 0)

        let left = try fixture.ledger.database.read { db in
            try String.fetchAll(db, sql: "SELECT idempotencyKey FROM inboxItem ORDER BY id")
        }
        #expect(left == ["recent", "pending", "failed"])
    }
}
