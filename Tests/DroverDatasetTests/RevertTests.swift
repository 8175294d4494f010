import DroverCore
@testable import DroverDataset
import DroverGit
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Testing

@Suite struct RevertTests {
    @Test func revertingARaterRemovesTheirRowsInOneCommitThatSaysWhy() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 2)
        defer { fixture.directory.remove() }
        try fixture.vote(.up, by: "r1", on: images[0])
        try fixture.vote(.down, by: "r1", on: images[1])
        try fixture.vote(.down, by: "r2", on: images[0])
        try await fixture.committer.commitAll()

        let result = try fixture.ledger.revert(.rater("r1"), reason: "a test account")
        #expect(result.voteEvents.count == 2 && result.voteEvents.allSatisfy { $0.source == .revert && $0.rating == nil })
        #expect(try await fixture.committer.commitAll().count == 1)

        let message = try await fixture.git.run(["log", "-1", "--format=%B"])
        #expect(message.hasPrefix("Revert 2 votes by rater r1: a test account\n"))
        #expect(message.contains("Retract Approve on image \(images[0]) by rater r1"))
        #expect(message.contains("Retract Disapprove on image \(images[1]) by rater r1"))
        #expect(try await fixture.committedRows() == ["\(datasetPath(images[0])),Disapprove,r2"])
        #expect(Set(try await fixture.committedRows()) == (try fixture.ledgerRows()), "the ledger agrees with the repository")
        #expect(try await fixture.git.committedTrainRows(at: "HEAD~1").contains { $0.contains(",r1,") }, "the history keeps the votes")
    }

    @Test func aVoteEventOrACommitRevertsOnlyTheRowsItStillHolds() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        let image = images[0]
        try fixture.vote(.up, by: "r1", on: image)
        try await fixture.committer.commitAll()
        let firstEvent = try #require(try fixture.ledger.voteEvents().last?.id)
        try fixture.vote(.down, by: "r1", on: image)
        try fixture.vote(.up, by: "r2", on: image)
        try await fixture.committer.commitAll()

        #expect(throws: ChangeSetError.nothingToRevert("of event \(firstEvent)"), "r1's 👍 was already replaced") {
            try fixture.ledger.revert(.voteEvents([firstEvent]), reason: "oops")
        }
        #expect(throws: ChangeSetError.unknownVoteEvents([999])) { try fixture.ledger.revert(.voteEvents([999]), reason: "oops") }
        #expect(throws: ChangeSetError.emptyReason) { try fixture.ledger.revert(.rater("r1"), reason: "  ") }

        let head = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
        _ = try fixture.ledger.revert(.commit(head), reason: "bad batch")
        try await fixture.committer.commitAll()
        #expect(try await fixture.subjects().first == "Revert 2 votes from commit \(head.prefix(10)): bad batch")
        #expect(try await fixture.committedRows() == [])
        #expect(try fixture.ledgerRows().isEmpty)
    }

    @Test func sinceATimeTakesOutTheVotesSetAfterIt() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        let image = images[0]
        let cut = Date()
        try await fixture.ledger.database.write { db in
            _ = try Ledger.apply(VoteCommand(imageID: image, rater: "early", choice: .up, source: .web, occurredAt: cut - 60), in: db)
            _ = try Ledger.apply(VoteCommand(imageID: image, rater: "late", choice: .up, source: .web, occurredAt: cut + 1), in: db)
        }
        _ = try fixture.ledger.revert(.since(cut), reason: "a flood")
        try await fixture.committer.commitAll()
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Approve,early"])
    }

    @Test func aRevertIsCommittedApartFromVotesWaitingWithIt() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        let image = images[0]
        try fixture.vote(.up, by: "r1", on: image)
        try await fixture.committer.commitAll()
        try fixture.vote(.up, by: "r2", on: image)
        _ = try fixture.ledger.revert(.rater("r1"), reason: "left the team")
        try fixture.vote(.down, by: "r3", on: image)
        #expect(try await fixture.committer.commitAll().count == 3)
        #expect(Array(try await fixture.subjects().prefix(3)) == [
            "Disapprove image \(image) by rater r3",
            "Revert 1 vote by rater r1: left the team",
            "Approve image \(image) by rater r2",
        ])
        #expect(Set(try await fixture.committedRows()) == (try fixture.ledgerRows()))
    }
}
