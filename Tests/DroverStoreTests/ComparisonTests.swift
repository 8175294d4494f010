import DroverCore
@testable import DroverStore
import GRDB
import DroverTestSupport
import Foundation
import Testing

/// ``Ledger/comparison(of:and:detectableDifference:blindedOnly:)`` reads the right votes: per
/// version, blinded images only unless asked, and the head-to-head pairs of one rater's votes on
/// both versions for one request.
@Suite struct ComparisonTests {
    @Test func talliesAndHeadToHeadPairsComeFromTheActiveVotes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        // Two requests whose images were assigned A and B, a third assigned B only, and a fourth
        // (the same prompt as r1) pinned to A.
        var images: [String: ImageID] = [:]
        let requests: [(String, [String], Assignment)] = [
            ("r1", ["A", "B"], .random), ("r2", ["A", "B"], .random), ("r3", ["B"], .random), ("r4", ["A"], .chosen),
        ]
        for (request, versions, assignment) in requests {
            for (position, version) in versions.enumerated() {
                let generation = GenerationRecord(
                    id: "\(request)-\(version)", prompt: request == "r4" ? "an ox r1" : "an ox \(request)", negativePrompt: nil, steps: nil,
                    guidanceScale: nil, width: 64, height: 64, model: "m", modelVersion: version, backend: "procedural", requestedBy: "web",
                    createdAt: Date(), requestID: request, assignment: assignment
                )
                let png = Data("\(request) \(version)".utf8)
                let record = ImageRecord(
                    id: ImageID(pngBytes: png), generationID: generation.id, position: position, seed: 1, png: png, postedTo: nil, createdAt: Date()
                )
                images["\(request)\(version)"] = try ledger.record([generation], images: [record])[0]
            }
        }
        func vote(_ image: String, _ rater: String, _ choice: VoteChoice) -> VoteCommand {
            VoteCommand(imageID: images[image]!, rater: rater, choice: choice, source: .web, occurredAt: Date())
        }
        try await ledger.apply([
            vote("r1A", "ann", .up), vote("r1B", "ann", .down),  // ann: A won r1
            vote("r2A", "ann", .down), vote("r2B", "ann", .up),  // ann: B won r2
            vote("r1A", "bob", .up), vote("r1B", "bob", .up),  // bob: a tie on r1
            vote("r3B", "bob", .up), vote("r2A", "cat", .up), vote("r2A", "cat", .none),  // no pairs; cat's vote taken back
            vote("r4A", "ann", .down),  // pinned: another request, even though the prompt is r1's
        ])
        let comparison = try ledger.comparison(of: "A", and: "B")
        #expect(comparison.a.images == 2 && comparison.a.votes == 3 && comparison.a.approvals == 2)
        #expect(comparison.b.images == 3 && comparison.b.votes == 4 && comparison.b.approvals == 3)
        #expect(comparison.blindedOnly == true)
        #expect(comparison.verdict == .tooFewVotes)
        let pairs = comparison.headToHead
        #expect(pairs.pairs == 3 && pairs.aWins == 1 && pairs.bWins == 1 && pairs.ties == 1)

        let everything = try ledger.comparison(of: "A", and: "B", blindedOnly: false)
        #expect(everything.a.images == 3 && everything.a.votes == 4 && everything.a.approvals == 2)
        #expect(everything.blindedOnly == false && everything.headToHead.pairs == 3, "a pinned request pairs with nothing")
    }
}

/// ``Ledger/statistics()`` adds up the active votes in SQLite: per version, per rater, agreement.
@Suite struct StatisticsQueryTests {
    @Test func countsPerModelVersionAndRaterAndAgreement() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        var images: [String: ImageID] = [:]
        for (name, version) in [("a", "0-1"), ("b", "0-1"), ("c", "0-2"), ("unrated", "0-2")] {
            let generation = GenerationRecord(
                id: "g-\(name)", prompt: "an ox", negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
                model: "m", modelVersion: version, backend: "procedural", requestedBy: "web", createdAt: Date()
            )
            let png = Data(name.utf8)
            images[name] = try ledger.record([generation], images: [
                ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: 0, seed: nil, png: png, postedTo: nil, createdAt: Date()),
            ])[0]
        }
        func vote(_ image: String, _ rater: String, _ choice: VoteChoice) -> VoteCommand {
            VoteCommand(imageID: images[image]!, rater: rater, choice: choice, source: .web, occurredAt: Date())
        }
        try await ledger.apply([
            vote("a", "r1", .up), vote("a", "r2", .up), vote("b", "r1", .down), vote("b", "r2", .up), vote("c", "r1", .up),
            vote("c", "r3", .down), vote("c", "r3", .none),  // taken back: not counted
        ])
        let statistics = try ledger.statistics()
        let first = try #require(statistics.modelVersions.first)
        #expect(first.modelVersion == "0-1" && first.images == 2 && first.votes == 4 && first.approvals == 3 && first.approvalRate == 0.75)
        #expect(first.approvalInterval == WilsonInterval(successes: 3, trials: 4))
        #expect(statistics.modelVersions.last?.images == 2 && statistics.modelVersions.last?.votes == 1)
        #expect(statistics.raters.map(\.rater) == ["r1", "r2"])
        #expect(statistics.raters.map(\.votes) == [3, 2] && statistics.raters.map(\.approvals) == [2, 2])
        // Units a: A A, b: D A → o_AA = 2, o_AD = o_DA = 1, n_A = 3, n_D = 1, n = 4;
        // D_o = 2/4, D_e = 2·3·1/12 = 1/2 → alpha = 0.
        #expect(statistics.agreement.images == 2 && statistics.agreement.votes == 4)
        #expect(statistics.agreement.krippendorffAlpha == 0)
    }

    /// The totals the triggers keep agree with the votes added up afresh, after many votes,
    /// changed ratings and retractions.
    @Test func theKeptTotalsAgreeWithTheVotesAfterManyChanges() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        var images: [ImageID] = []
        for index in 0..<30 {
            let generation = GenerationRecord(
                id: "g-\(index)", prompt: "an ox", negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
                model: "m", modelVersion: "0-\(index % 3)", backend: "procedural", requestedBy: "web", createdAt: Date()
            )
            let png = Data("image \(index)".utf8)
            images += try ledger.record([generation], images: [
                ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: 0, seed: nil, png: png, postedTo: nil, createdAt: Date()),
            ])
        }
        var random = SplitMix64(seed: 7)
        for _ in 0..<20 {
            try await ledger.apply((0..<40).map { _ in
                let choice: VoteChoice = [.up, .down, .none][Int(random.next() % 3)]
                return VoteCommand(imageID: images[Int(random.next() % 30)], rater: "r\(random.next() % 8)", choice: choice, source: .web, occurredAt: Date())
            })
        }
        let kept = try ledger.statistics()
        let afresh = try await ledger.database.read { db in
            (
                versions: try Row.fetchAll(db, sql: """
                    SELECT generation.modelVersion AS version, COUNT(DISTINCT image.id) AS images, COUNT(vote.rater) AS votes,
                           TOTAL(vote.rating = 'Approve') AS approvals
                    FROM image JOIN generation ON generation.id = image.generationID LEFT JOIN vote ON vote.imageID = image.id
                    GROUP BY generation.modelVersion ORDER BY generation.modelVersion
                    """).map { "\($0["version"] as String) \($0["images"] as Int) \($0["votes"] as Int) \(Int($0["approvals"] as Double))" },
                raters: try Row.fetchAll(db, sql: """
                    SELECT rater, COUNT(*) AS votes, TOTAL(rating = 'Approve') AS approvals FROM vote GROUP BY rater ORDER BY votes DESC, rater
                    """).map { "\($0["rater"] as String) \($0["votes"] as Int) \(Int($0["approvals"] as Double))" },
                // The raters' agreement with the others' majority, from every vote.
                agreement: try Row.fetchAll(db, sql: """
                    SELECT rater, COUNT(*) AS votes, SUM(othersApprove <> othersDisapprove) AS withMajority,
                           SUM((othersApprove > othersDisapprove AND approve) OR (othersDisapprove > othersApprove AND NOT approve)) AS agreeing,
                           max(updatedAt) AS lastVotedAt
                    FROM (
                        SELECT vote.rater, vote.updatedAt, vote.rating = 'Approve' AS approve,
                               SUM(others.rating = 'Approve') AS othersApprove, SUM(others.rating = 'Disapprove') AS othersDisapprove
                        FROM vote LEFT JOIN vote AS others ON others.imageID = vote.imageID AND others.rater <> vote.rater
                        GROUP BY vote.imageID, vote.rater
                    )
                    GROUP BY rater ORDER BY votes DESC, rater
                    """).map { "\($0["rater"] as String) \($0["votes"] as Int) \($0["agreeing"] as Int)/\($0["withMajority"] as Int) \($0["lastVotedAt"] as Date)" },
                tallies: try Row.fetchAll(db, sql: """
                    SELECT TOTAL(rating = 'Approve') AS a, TOTAL(rating = 'Disapprove') AS d FROM vote GROUP BY imageID HAVING COUNT(*) >= 2
                    """).map { (approvals: $0["a"] as Double, disapprovals: $0["d"] as Double) }
            )
        }
        #expect(kept.modelVersions.map { "\($0.modelVersion) \($0.images) \($0.votes) \($0.approvals)" } == afresh.versions)
        #expect(kept.raters.map { "\($0.rater) \($0.votes) \($0.approvals)" } == afresh.raters)
        let summaries = try ledger.raterSummaries(limit: 100, offset: 0)
        #expect(summaries.map { "\($0.rater) \($0.votes) \($0.agreeing)/\($0.withMajority) \($0.lastVotedAt)" } == afresh.agreement)
        #expect(summaries.reduce(0) { $0 + $1.withMajority } > 20, "enough images with a majority to compare")
        let coincidences = afresh.tallies.reduce(into: (aa: 0.0, dd: 0.0, ad: 0.0)) { sums, tally in
            let n = tally.approvals + tally.disapprovals
            sums.aa += tally.approvals * (tally.approvals - 1) / (n - 1)
            sums.dd += tally.disapprovals * (tally.disapprovals - 1) / (n - 1)
            sums.ad += tally.approvals * tally.disapprovals / (n - 1)
        }
        let expected = BinaryCoincidences(approveApprove: coincidences.aa, disapproveDisapprove: coincidences.dd, approveDisapprove: coincidences.ad)
        #expect(kept.agreement.images == afresh.tallies.count && afresh.tallies.count > 10)
        #expect(abs((kept.agreement.krippendorffAlpha ?? .nan) - (expected.alpha ?? .nan)) < 1e-12)
    }

    @Test func anEmptyLedgerHasNoFigures() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let statistics = try Ledger(path: directory.path + "/drover.sqlite").statistics()
        #expect(statistics.modelVersions.isEmpty && statistics.raters.isEmpty)
        #expect(statistics.agreement.images == 0 && statistics.agreement.votes == 0 && statistics.agreement.krippendorffAlpha == nil)
    }
}
