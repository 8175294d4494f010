import DroverCore
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import DroverServer

/// Counts the transactions a database commits.
private final class CommitCounter: TransactionObserver, Sendable {
    private let count = Mutex(0)
    var commits: Int { count.withLock { $0 } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { count.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// A ledger with two images, an inbox and a vote lane over it.
private struct VoteLaneFixture {
    let directory: TemporaryDirectory
    let ledger: Ledger
    let inbox: Inbox
    let images: [ImageID]
    let committerDoorbell = Doorbell()

    init() throws {
        directory = try TemporaryDirectory()
        ledger = try Ledger(path: directory.path + "/drover.sqlite")
        inbox = Inbox(ledger: ledger)
        let generation = GenerationRecord(
            id: "g1", prompt: "an ox", negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
            model: "m", modelVersion: "0-1", backend: "procedural", requestedBy: "web", createdAt: Date()
        )
        let records = (0..<2).map { index in
            let png = Data("png \(index)".utf8)
            return ImageRecord(id: ImageID(pngBytes: png), generationID: "g1", position: index, seed: UInt32(index), png: png, postedTo: nil, createdAt: Date())
        }
        images = try ledger.record([generation], images: records)
    }

    func lane(batchLimit: Int) -> VoteLane {
        let announcer = VoteAnnouncer(metrics: DroverMetrics(), committerDoorbell: committerDoorbell, tallies: nil)
        var lane = VoteLane(
            inbox: inbox, ledger: ledger, pseudonymizer: RaterPseudonymizer(salt: Array("pepper".utf8)), announcer: announcer, logger: testLogger
        )
        lane.batchLimit = batchLimit
        return lane
    }

    func send(_ choice: VoteChoice, by rater: String, on imageID: ImageID, key: String) async throws {
        let command = VoteCommand(imageID: imageID, rater: rater, choice: choice, source: .web, occurredAt: Date())
        _ = try await inbox.accept(idempotencyKey: key, kind: VoteItem.web.rawValue, payload: try JSONEncoder().encode(command))
    }

    func item(_ key: String) throws -> InboxItem? {
        try ledger.database.read { db in try InboxItem.filter(Column("idempotencyKey") == key).fetchOne(db) }
    }
}

@Suite struct VoteLaneTests {
    @Test func appliesWaitingVotesInOrderInOneTransactionPerBatch() async throws {
        let fixture = try VoteLaneFixture()
        // 25 raters vote 👍; every third changes to 👎 and every fifth then retracts.
        var expected: [String: Rating] = [:]
        var key = 0
        for rater in (0..<25).map({ "r\($0)" }) {
            try await fixture.send(.up, by: rater, on: fixture.images[0], key: "k\(key)"); key += 1
            expected[rater] = .approve
            if Int(rater.dropFirst())! % 3 == 0 {
                try await fixture.send(.down, by: rater, on: fixture.images[0], key: "k\(key)"); key += 1
                expected[rater] = .disapprove
            }
            if Int(rater.dropFirst())! % 5 == 0 {
                try await fixture.send(.none, by: rater, on: fixture.images[0], key: "k\(key)"); key += 1
                expected[rater] = nil
            }
        }
        let counter = CommitCounter()
        fixture.ledger.database.add(transactionObserver: counter, extent: .databaseLifetime)

        try await fixture.lane(batchLimit: 10).drain { false }

        let votes = try fixture.ledger.votes(on: fixture.images[0])
        #expect(Dictionary(uniqueKeysWithValues: votes.map { ($0.rater, $0.rating) }) == expected)
        #expect(try fixture.ledger.voteEvents().count == key)
        #expect(try fixture.inbox.depth() == 0)
        #expect(counter.commits == (key + 9) / 10)
    }

    @Test func aFailingItemIsRolledBackAloneAndSetAsideAfterItsLastAttempt() async throws {
        let fixture = try VoteLaneFixture()
        let unknown = ImageID(pngBytes: Data("never stored".utf8))
        try await fixture.send(.up, by: "a", on: fixture.images[0], key: "before")
        try await fixture.send(.up, by: "b", on: unknown, key: "unknown image")
        try await fixture.send(.down, by: "c", on: fixture.images[1], key: "after")

        try await fixture.lane(batchLimit: 128).drain { false }

        #expect(try fixture.ledger.votes(on: fixture.images[0]).map(\.rater) == ["a"])
        #expect(try fixture.ledger.votes(on: fixture.images[1]).map(\.rater) == ["c"])
        #expect(try fixture.ledger.voteEvents().count == 2)
        let failed = try #require(try fixture.item("unknown image"))
        #expect(failed.state == .failed)
        #expect(failed.attempts == Inbox.maxAttempts)
        #expect(failed.lastError?.contains("no image") == true)
        #expect(try fixture.item("before")?.state == .done)
        #expect(try fixture.item("after")?.state == .done)
    }

    /// A reaction on one of Drover's image messages is a vote; one on another message is done
    /// with and changes nothing.
    @Test func reactionsAreAppliedByTheLane() async throws {
        let fixture = try VoteLaneFixture()
        try fixture.ledger.record(SlackMessageRecord(
            channel: "C1", ts: "1700000000.000100", imageID: fixture.images[0], teamID: "T1", fileID: "F1", postedAt: Date()
        ))
        for (key, ts) in [("on the image", "1700000000.000100"), ("on another message", "1700000000.000200")] {
            let payload = #"{"added":true,"teamID":"T1","user":"U1","rating":"Approve","channel":"C1","messageTS":"\#(ts)","eventTS":"1700000001.000001"}"#
            _ = try await fixture.inbox.accept(idempotencyKey: key, kind: VoteItem.slackReaction.rawValue, payload: Data(payload.utf8))
        }

        try await fixture.lane(batchLimit: 128).drain { false }

        #expect(try fixture.ledger.votes(on: fixture.images[0]).map(\.rating) == [.approve])
        #expect(try fixture.ledger.voteEvents().map(\.source) == [.slackReaction])
        #expect(try fixture.item("on the image")?.state == .done)
        #expect(try fixture.item("on another message")?.state == .done)
    }

    @Test func aPendingItemIsCompletedOnce() async throws {
        let fixture = try VoteLaneFixture()
        try await fixture.send(.up, by: "a", on: fixture.images[0], key: "once")
        let item = try #require(try fixture.item("once"))
        #expect(try await fixture.ledger.database.write { db in try Inbox.completeIfPending(item, in: db) })
        #expect(try await fixture.ledger.database.write { db in try Inbox.completeIfPending(item, in: db) } == false)

        try await fixture.lane(batchLimit: 128).drain { false }

        #expect(try fixture.ledger.voteEvents().isEmpty)
    }
}
