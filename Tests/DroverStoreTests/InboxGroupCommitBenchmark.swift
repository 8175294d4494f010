@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// Not a check: with `DROVER_BENCH_INBOX=1`, prints how many deliveries/s 64 concurrent writers
/// store with one transaction each (the old `Inbox.accept`) and with group commit
/// (`Inbox.acceptAsync`), on a real file with `synchronous = FULL`.
@Suite struct InboxGroupCommitBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DROVER_BENCH_INBOX"] == "1"))
    func oneTransactionEachVersusGrouped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        let inbox = Inbox(ledger: ledger)
        let perWriter = 40
        let database = ledger.database

        let clock = ContinuousClock()
        let alone = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<64 {
                    group.addTask { () async throws in
                        for n in 0..<perWriter {
                            let item = InboxItem(
                                idempotencyKey: "alone-\(writer)-\(n)", kind: "vote", payload: Data(), state: .pending, attempts: 0,
                                leaseExpiresAt: nil, receivedAt: Date(), finishedAt: nil, lastError: nil
                            )
                            _ = try await database.write { try InboxWriter.insert(item, in: $0) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let grouped = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<64 {
                    group.addTask { () async throws in
                        for n in 0..<perWriter {
                            _ = try await inbox.accept(idempotencyKey: "grouped-\(writer)-\(n)", kind: "vote", payload: Data())
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let total = Double(64 * perWriter)
        func rate(_ duration: Duration) -> Int { Int(total / duration.seconds) }
        print("inbox, 64 concurrent writers, \(64 * perWriter) deliveries each way: one transaction each \(rate(alone))/s, grouped \(rate(grouped))/s (\(ledger.inboxWriter.transactionsCommitted.load(ordering: .relaxed)) transactions)")
        #expect(try inbox.depth() == 2 * 64 * perWriter)
    }
}
