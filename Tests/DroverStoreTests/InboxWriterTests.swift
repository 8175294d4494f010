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
                            (key, try await inbox.accept(idempotencyKey: key, kind: "vote", payload: Data("\(copy)".utf8)))
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
                        let acceptance = try await inbox.accept(idempotencyKey: key, kind: "vote", payload: Data())
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

    @Test func sameKeyInArrivalOrderKeepsTheFirstPayload() async throws {
        try await withLedger { ledger, _ in
            let inbox = Inbox(ledger: ledger)
            #expect(try await inbox.accept(idempotencyKey: "Ev1", kind: "vote", payload: Data("first".utf8)) == .accepted)
            #expect(try await inbox.accept(idempotencyKey: "Ev1", kind: "vote", payload: Data("second".utf8)) == .duplicate)
                        let item = try inbox.claimNext(leaseDuration: .seconds(30))
            #expect(item.map { String(decoding: $0.payload, as: UTF8.self) } == "first")
        }
    }

    @Test func inboxesOfOneLedgerShareItsWriter() async throws {
        try await withLedger { ledger, _ in
            #expect(Inbox(ledger: ledger).writer === Inbox(ledger: ledger).writer)
        }
    }
}

@Suite struct InboxPruningTests {
    @Test func onlyItemsHandledBeforeTheCutoffGo() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        for key in ["old-1", "old-2", "old-3", "recent", "pending", "failed"] {
            _ = try await inbox.accept(idempotencyKey: key, kind: "vote", payload: Data())
        }
        let now = Date()
        try await fixture.ledger.database.write { db in
            try db.execute(sql: "UPDATE inboxItem SET state = 'done', finishedAt = ? WHERE idempotencyKey LIKE 'old-%'", arguments: [now.addingTimeInterval(-8 * 86_400)])
            try db.execute(sql: "UPDATE inboxItem SET state = 'done', finishedAt = ? WHERE idempotencyKey = 'recent'", arguments: [now.addingTimeInterval(-60)])
            try db.execute(sql: "UPDATE inboxItem SET state = 'failed', finishedAt = ? WHERE idempotencyKey = 'failed'", arguments: [now.addingTimeInterval(-30 * 86_400)])
        }
        let cutoff = now.addingTimeInterval(-Inbox.retention.seconds)

        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 2)
        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 1)
        #expect(try inbox.pruneHandled(before: cutoff, limit: 2) == 0)

        let left = try await fixture.ledger.database.read { db in
            try String.fetchAll(db, sql: "SELECT idempotencyKey FROM inboxItem ORDER BY id")
        }
        #expect(left == ["recent", "pending", "failed"])
    }
}
