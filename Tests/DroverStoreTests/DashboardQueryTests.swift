import DroverCore
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Testing

/// A ledger with six known images — two model versions, the three sources — and votes that
/// give each rating state, including a changed rating and a retracted one.
///
/// | image | version | source | prompt | active votes |
/// |---|---|---|---|---|
/// | 0 | a | web | a red ox | alice 👍, bob 👍 |
/// | 1 | a | web | a red ox | alice 👎 |
/// | 2 | b | web | a blue heron | alice 👍, bob 👎, carol 👎 |
/// | 3 | a | slack | a green 100% ox_field | — |
/// | 4 | b | import | an imported cat | alice 👍, bob 👎 |
/// | 5 | b | web | a blue heron | bob 👎 (was 👍), carol 👎; dave's 👍 retracted |
struct DashboardFixture {
    let directory: TemporaryDirectory
    let ledger: Ledger
    let images: [ImageID]
    /// When dave voted: two days before the other votes.
    let early: Date
    let now: Date

    init() throws {
        directory = try TemporaryDirectory()
        ledger = try Ledger(path: directory.path + "/drover.sqlite")
        let now = Date(), early = now - 2 * 86_400
        self.now = now
        self.early = early
        let ledger = self.ledger
        func generation(_ id: String, _ prompt: String, _ version: String, by requester: String) -> GenerationRecord {
            GenerationRecord(
                id: id, prompt: prompt, negativePrompt: nil, steps: 20, guidanceScale: 7, width: 64, height: 64, model: "m",
                modelVersion: version, backend: requester == "import" ? "external" : "procedural", requestedBy: requester, createdAt: now
            )
        }
        let generations = [
            generation("g-ox", "a red ox", "a", by: "web"), generation("g-heron", "a blue heron", "b", by: "web"),
            generation("g-slack", "a green 100% ox_field", "a", by: "5f1d2a9b0c3e"), generation("g-import", "an imported cat", "b", by: "import"),
        ]
        var recorded: [ImageID] = []
        for (index, generationID) in ["g-ox", "g-ox", "g-heron", "g-slack", "g-import", "g-heron"].enumerated() {
            let png = Data("png \(index)".utf8)
            let image = ImageRecord(id: ImageID(pngBytes: png), generationID: generationID, position: index, seed: 1, png: png, postedTo: nil, createdAt: now)
            recorded += try ledger.record(generations.filter { $0.id == generationID }, images: [image])
        }
        images = recorded
        let votes: [(Int, String, VoteChoice, Date)] = [
            (0, "alice", .up, now), (0, "bob", .up, now), (1, "alice", .down, now),
            (2, "alice", .up, now), (2, "bob", .down, now), (2, "carol", .down, now),
            (4, "alice", .up, now), (4, "bob", .down, now),
            (5, "dave", .up, early), (5, "bob", .up, now), (5, "bob", .down, now), (5, "carol", .down, now), (5, "dave", .none, now),
        ]
        try ledger.database.write { db in
            for (image, rater, choice, at) in votes {
                try Ledger.apply(VoteCommand(imageID: recorded[image], rater: rater, choice: choice, source: .web, occurredAt: at), in: db)
            }
        }
    }

    func page(_ query: ImageQuery) throws -> [Int] {
        try ledger.images(query).images.map { card in images.firstIndex(of: card.id) ?? -1 }
    }

    /// Every image's tally as the `imageTally` table keeps it, and as counting `vote` gives it.
    func tallies() throws -> (kept: [String], counted: [String]) {
        try ledger.database.read { db in
            let kept = try String.fetchAll(db, sql: "SELECT imageID || ':' || approvals || '/' || disapprovals FROM imageTally ORDER BY imageID")
            let counted = try String.fetchAll(db, sql: """
                SELECT image.id || ':' || (SELECT COUNT(*) FROM vote WHERE imageID = image.id AND rating = 'Approve')
                       || '/' || (SELECT COUNT(*) FROM vote WHERE imageID = image.id AND rating = 'Disapprove')
                FROM image ORDER BY image.id
                """)
            return (kept, counted)
        }
    }
}

@Suite struct DashboardQueryTests {
    @Test func eachOrderSortsAsDocumented() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        #expect(try fixture.page(ImageQuery(order: .newest)) == [5, 4, 3, 2, 1, 0])
        #expect(try fixture.page(ImageQuery(order: .mostVotes)) == [2, 5, 4, 0, 1, 3])
        #expect(try fixture.page(ImageQuery(order: .mostDisputed)) == [2, 4, 5, 0, 1, 3])
        #expect(try fixture.page(ImageQuery(order: .lowestApproval)) == [5, 1, 2, 4, 0, 3])
    }

    @Test func eachFilterKeepsWhatItNames() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        #expect(try fixture.page(ImageQuery(state: .unrated)) == [3])
        #expect(try fixture.page(ImageQuery(state: .approved)) == [0])
        #expect(try fixture.page(ImageQuery(state: .disapproved)) == [5, 1])
        #expect(try fixture.page(ImageQuery(state: .disputed)) == [4, 2])
        #expect(try fixture.page(ImageQuery(source: .web)) == [5, 2, 1, 0])
        #expect(try fixture.page(ImageQuery(source: .slack)) == [3])
        #expect(try fixture.page(ImageQuery(source: .import)) == [4])
        #expect(try fixture.page(ImageQuery(modelVersion: "a")) == [3, 1, 0])
        #expect(try fixture.page(ImageQuery(modelVersion: "nope")) == [])
        #expect(try fixture.page(ImageQuery(text: "ox")) == [3, 1, 0])
        #expect(try fixture.page(ImageQuery(text: "HERON")) == [5, 2])
        // LIKE's wildcards are the characters themselves.
        #expect(try fixture.page(ImageQuery(text: "100%")) == [3])
        #expect(try fixture.page(ImageQuery(text: "_")) == [3])
        #expect(try fixture.page(ImageQuery(text: "%")) == [3])
        #expect(try fixture.page(ImageQuery(modelVersion: "b", state: .disputed, order: .mostVotes)) == [2, 4])
    }

    @Test func pagesFollowEachOther() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        let first = try fixture.ledger.images(ImageQuery(order: .mostVotes, limit: 4))
        #expect(first.images.count == 4 && first.nextOffset == 4)
        let last = try fixture.ledger.images(ImageQuery(order: .mostVotes, limit: 4, offset: 4))
        #expect(last.nextOffset == nil)
        #expect((first.images + last.images).map(\.id) == [2, 5, 4, 0, 1, 3].map { fixture.images[$0] })
        let card = try #require(first.images.first)
        #expect(card.prompt == "a blue heron" && card.approvals == 1 && card.disapprovals == 2)
    }

    /// The triggers keep `imageTally` equal to a recount through new votes, changes,
    /// retractions and a revert.
    @Test func talliesFollowEveryKindOfChange() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        var tallies = try fixture.tallies()
        #expect(tallies.kept == tallies.counted)
        _ = try fixture.ledger.revert(.rater("bob"), reason: "test")
        tallies = try fixture.tallies()
        #expect(tallies.kept == tallies.counted)
        #expect(try fixture.page(ImageQuery(state: .disputed)) == [2])
    }

    /// v8 fills `imageTally`, v9 the statistics' totals and v10 the raters' agreement, from a ledger that already has
    /// images and votes.
    @Test func theMigrationCountsExistingVotes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/drover.sqlite"
        let queue = try DatabaseQueue(path: path)
        try LedgerSchema.migrator.migrate(queue, upTo: "v7: model versions")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO generation (id, prompt, width, height, model, modelVersion, backend, requestedBy, createdAt)
                VALUES ('g', 'an ox', 64, 64, 'm', 'a', 'procedural', 'import', '2026-11-29 10:00:00.000');
                INSERT INTO image (id, generationID, position, png, createdAt) VALUES ('0123456789abcdef', 'g', 0, X'00', '2026-11-29 10:00:00.000');
                INSERT INTO voteEvent (imageID, rater, rating, source, occurredAt) VALUES ('0123456789abcdef', 'r1', 'Approve', 'web', '2026-11-29 10:00:00.000');
                INSERT INTO vote (imageID, rater, rating, eventID, updatedAt) VALUES ('0123456789abcdef', 'r1', 'Approve', 1, '2026-11-29 10:00:00.000');
                INSERT INTO voteEvent (imageID, rater, rating, source, occurredAt) VALUES ('0123456789abcdef', 'r2', 'Disapprove', 'web', '2026-11-29 11:00:00.000');
                INSERT INTO vote (imageID, rater, rating, eventID, updatedAt) VALUES ('0123456789abcdef', 'r2', 'Disapprove', 2, '2026-11-29 11:00:00.000');
                """)
        }
        try queue.close()
        let ledger = try Ledger(path: path)
        let page = try ledger.images(ImageQuery(source: .import))
        #expect(page.images.map { "\($0.id):\($0.approvals)/\($0.disapprovals)" } == ["0123456789abcdef:1/1"])
        let statistics = try ledger.statistics()
        #expect(statistics.modelVersions.map { "\($0.modelVersion) \($0.images) \($0.votes) \($0.approvals)" } == ["a 1 2 1"])
        #expect(statistics.raters.map { "\($0.rater) \($0.votes) \($0.approvals)" } == ["r1 1 1", "r2 1 0"])
        // v10: each disagrees with the other, the majority of the image's other raters.
        #expect(try ledger.raterSummaries(limit: 10, offset: 0).map { "\($0.rater) \($0.agreeing)/\($0.withMajority)" } == ["r1 0/1", "r2 0/1"])
        let day = try Date("2026-11-29T00:00:00Z", strategy: .iso8601)
        #expect(try ledger.dailyVotes(since: day, until: day + 86_400).map { "\($0.day) \($0.approvals)/\($0.disapprovals)" } == [
            "2026-11-29 1/1", "2026-11-30 0/0",
        ])
    }

    @Test func oneImageHasItsProvenanceAndEveryEvent() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        let detail = try #require(try fixture.ledger.imageDetail(fixture.images[5]))
        #expect(detail.provenance.prompt == "a blue heron" && detail.provenance.modelVersion == "b")
        #expect(detail.approvals == 0 && detail.disapprovals == 2)
        #expect(detail.events.map { "\($0.rater) \($0.rating?.rawValue ?? "-")" } == [
            "dave Approve", "bob Approve", "bob Disapprove", "carol Disapprove", "dave -",
        ])
        #expect(try fixture.ledger.imageDetail(ImageID(pngBytes: Data("nothing".utf8))) == nil)
    }

    @Test func ratersAreComparedWithTheOthersMajority() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        let summaries = try fixture.ledger.raterSummaries(limit: 10, offset: 0)
        #expect(summaries.map { "\($0.rater) \($0.votes) \($0.approvals) \($0.agreeing)/\($0.withMajority)" } == [
            "alice 4 3 1/3", "bob 4 1 2/3", "carol 2 0 1/1",
        ])
        #expect(try fixture.ledger.raterSummaries(limit: 1, offset: 2).map(\.rater) == ["carol"])
    }

    @Test func votesAreCountedOnTheDayTheyWereCast() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        let start = Date(timeIntervalSince1970: ((fixture.now.timeIntervalSince1970 / 86_400).rounded(.down) - 2) * 86_400)
        let days = try fixture.ledger.dailyVotes(since: start, until: fixture.now)
        #expect(days.map(\.day) == [0, 1, 2].map { String(Timestamp.iso8601(start + Double($0) * 86_400).prefix(10)) })
        #expect(days.map(\.approvals) == [1, 0, 5])
        #expect(days.map(\.disapprovals) == [0, 0, 6])
    }

    @Test func versionsUncommittedChangesAndCommittedEvents() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        #expect(try fixture.ledger.modelVersionsByRecency() == ["b", "a"])
        let events = try fixture.ledger.voteEvents()
        #expect(try fixture.ledger.uncommittedChanges() == 6 + events.count)
        let sha = String(repeating: "ab", count: 20)
        let onImage5 = events.filter { $0.imageID == fixture.images[5] }.compactMap(\.id)
        try fixture.ledger.markCommitted(images: fixture.images, voteEvents: onImage5, commitSHA: sha)
        #expect(try fixture.ledger.uncommittedChanges() == events.count - onImage5.count)
        let committed = try fixture.ledger.voteEvents(inCommits: [sha])
        #expect(committed.map(\.event.id) == onImage5)
        #expect(committed.map { "\($0.event.rater) \($0.isActive)" } == ["dave false", "bob false", "bob true", "carol true", "dave false"])
    }

    @Test func aRaterSeesTheirOwnRatings() throws {
        let fixture = try DashboardFixture()
        defer { fixture.directory.remove() }
        let ratings = try fixture.ledger.ratings(by: "alice", of: fixture.images)
        #expect(ratings == [fixture.images[0]: .approve, fixture.images[1]: .disapprove, fixture.images[2]: .approve, fixture.images[4]: .approve])
    }
}
