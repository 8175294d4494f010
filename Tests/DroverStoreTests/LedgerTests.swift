import DroverCore
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Testing

/// A ledger in a fresh temporary directory, with one generation of `imageCount` images.
struct LedgerFixture {
    let directory: TemporaryDirectory
    let ledger: Ledger
    let images: [ImageID]

    init(imageCount: Int = 1) throws {
        directory = try TemporaryDirectory()
        ledger = try Ledger(path: directory.path + "/drover.sqlite")
        let generation = GenerationRecord(
            id: "g1", prompt: "an ox", negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
            model: "m", modelVersion: "0-1", backend: "procedural", requestedBy: "web", createdAt: Date()
        )
        let records = (0..<imageCount).map { index in
            let png = Data("png \(index)".utf8)
            return ImageRecord(id: ImageID(pngBytes: png), generationID: "g1", position: index, seed: UInt32(index), png: png, postedTo: nil, createdAt: Date())
        }
        images = try ledger.record([generation], images: records)
    }

    func vote(_ choice: VoteChoice, by rater: String, on image: Int = 0) throws -> VoteEventRecord? {
        try ledger.database.write { db in
            try Ledger.apply(VoteCommand(imageID: images[image], rater: rater, choice: choice, source: .web, occurredAt: Date()), in: db)
        }
    }
}

@Suite struct MigrationTests {
    @Test func freshFileGetsEveryMigration() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        #expect(try fixture.ledger.appliedMigrations() == [
            "v1: inbox, generations, images, votes", "v2: slack messages", "v3: change sets (reverts, imports)",
            "v4: reaction states, uncommitted images", "v5: inbox state checked without a temporary table",
            "v6: oxen mirror", "v7: model versions", "v8: dashboard indexes", "v9: statistics totals", "v10: rater agreement totals", "v11: the committer's last commit", "v12: disputed images, newest first",
        ])
        let mode = try fixture.ledger.database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    /// A power cut must keep every acknowledged write: the pool's writer syncs the WAL at each
    /// commit (`FULL`, 2), and is not left in the `NORMAL` that WAL mode defaults to in GRDB.
    @Test func everyCommitIsSyncedToDisk() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let mode = try fixture.ledger.database.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
        #expect(mode == 2)
    }

    @Test func reopeningAnExistingFileKeepsItsData() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        _ = try fixture.vote(.up, by: "r1")
        let reopened = try Ledger(path: fixture.directory.path + "/drover.sqlite")
        #expect(try reopened.appliedMigrations().count == 12)
        #expect(try reopened.votes(on: fixture.images[0]).map(\.rating) == [.approve])
        #expect(try reopened.containsImage(fixture.images[0]))
    }
}

@Suite struct VoteSemanticsTests {
    @Test func oneActiveRatingPerRaterAndImage() throws {
        let fixture = try LedgerFixture(imageCount: 2)
        defer { fixture.directory.remove() }
        _ = try fixture.vote(.up, by: "r1")
        _ = try fixture.vote(.down, by: "r2")
        _ = try fixture.vote(.down, by: "r1", on: 1)
        #expect(try fixture.ledger.votes(on: fixture.images[0]).map { "\($0.rater)=\($0.rating.rawValue)" } == ["r1=Approve", "r2=Disapprove"])
        #expect(try fixture.ledger.votes(on: fixture.images[1]).map(\.rating) == [.disapprove])
    }

    @Test func aNewRatingReplacesTheOldAsOneEvent() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        _ = try fixture.vote(.up, by: "r1")
        let change = try #require(try fixture.vote(.down, by: "r1"))
        #expect(change.previousRating == .approve && change.rating == .disapprove)
        #expect(try fixture.ledger.votes(on: fixture.images[0]).map(\.rating) == [.disapprove])
    }

    @Test func sameRatingAgainChangesNothing() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        #expect(try fixture.vote(.up, by: "r1") != nil)
        #expect(try fixture.vote(.up, by: "r1") == nil)
        #expect(try fixture.ledger.voteEvents().count == 1)
    }

    @Test func noneRetractsAndHistoryKeepsEverything() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        _ = try fixture.vote(.up, by: "r1")
        _ = try fixture.vote(.down, by: "r1")
        let retraction = try #require(try fixture.vote(.none, by: "r1"))
        #expect(retraction.rating == nil && retraction.previousRating == .disapprove)
        #expect(try fixture.ledger.votes(on: fixture.images[0]).isEmpty)
        #expect(try fixture.vote(.none, by: "r1") == nil, "nothing left to retract")
        #expect(try fixture.ledger.voteEvents().map { [$0.previousRating?.rawValue ?? "-", $0.rating?.rawValue ?? "-"] } == [
            ["-", "Approve"], ["Approve", "Disapprove"], ["Disapprove", "-"],
        ])
    }

    @Test func votingOnAnUnknownImageIsRefusedAndWritesNothing() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let unknown = try #require(ImageID(validating: "0000000000000000"))
        #expect(throws: LedgerError.unknownImage(unknown)) {
            try fixture.ledger.database.write { db in
                try Ledger.apply(VoteCommand(imageID: unknown, rater: "r1", choice: .up, source: .web, occurredAt: Date()), in: db)
            }
        }
        #expect(try fixture.ledger.voteEvents().isEmpty)
    }
}

@Suite struct InboxTests {
    @Test func aSecondItemWithTheSameKeyIsADuplicate() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        #expect(try await inbox.accept(idempotencyKey: "Ev1", kind: "vote", payload: Data("{}".utf8)) == .accepted)
        #expect(try await inbox.accept(idempotencyKey: "Ev1", kind: "vote", payload: Data("{}".utf8)) == .duplicate)
        #expect(try inbox.depth() == 1)
    }

    @Test func itemsAreClaimedInOrderUnderALease() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        for key in ["a", "b"] { _ = try await inbox.accept(idempotencyKey: key, kind: "vote", payload: Data()) }
        let now = Date()
        #expect(try inbox.claimNext(leaseDuration: .seconds(60), at: now)?.idempotencyKey == "a")
        #expect(try inbox.claimNext(leaseDuration: .seconds(60), at: now)?.idempotencyKey == "b")
        #expect(try inbox.claimNext(leaseDuration: .seconds(60), at: now) == nil)
        let afterLease = now.addingTimeInterval(61)
        #expect(try inbox.claimNext(leaseDuration: .seconds(60), at: afterLease)?.idempotencyKey == "a", "an expired lease is taken again")
    }

    @Test func completionCommitsWithTheEffectsAndInterruptedItemsComeBack() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        for key in ["a", "b"] { _ = try await inbox.accept(idempotencyKey: key, kind: "vote", payload: Data()) }
        let first = try #require(try inbox.claimNext(leaseDuration: .seconds(60)))
        try await inbox.complete(first)
        _ = try #require(try inbox.claimNext(leaseDuration: .seconds(60)))
        // A crash here leaves "b" running; the next start takes it back.
        #expect(try inbox.releaseInterrupted(kinds: ["vote"]) == 1)
        #expect(try inbox.claimNext(leaseDuration: .seconds(60))?.idempotencyKey == "b")
    }

    @Test func failingItemsAreRetriedThenSetAside() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let inbox = Inbox(ledger: fixture.ledger)
        _ = try await inbox.accept(idempotencyKey: "a", kind: "vote", payload: Data())
        for _ in 0..<Inbox.maxAttempts {
            let item = try #require(try inbox.claimNext(leaseDuration: .seconds(60)))
            try inbox.recordFailure(of: item, error: "boom")
        }
        #expect(try inbox.claimNext(leaseDuration: .seconds(60)) == nil)
        #expect(try inbox.depth() == 0)
    }
}
