import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// ``Ledger/comparison(of:and:detectableDifference:)`` reads the right votes: per version, and the
/// head-to-head pairs of one rater's votes on both versions for one prompt.
@Suite struct ComparisonTests {
    @Test func talliesAndHeadToHeadPairsComeFromTheActiveVotes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        // Two prompts, each asked of version A and of version B, and a third asked of B only.
        var images: [String: ImageID] = [:]
        for (request, versions) in [("r1", ["A", "B"]), ("r2", ["A", "B"]), ("r3", ["B"])] {
            for (position, version) in versions.enumerated() {
                let generation = GenerationRecord(
                    id: "\(request)-\(version)", prompt: "an ox \(request)", negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
                    model: "m", modelVersion: version, backend: "procedural", requestedBy: "web", createdAt: Date()
                )
                let png = Data("\(request) \(version)".utf8)
                let record = ImageRecord(
                    id: ImageID(pngBytes: png), generationID: generation.id, position: position, seed: 1, png: png, postedTo: nil, createdAt: Date()
                )
                images["\(request)\(version)"] = try ledger.record(generation, images: [record])[0]
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
        ])
        let comparison = try ledger.comparison(of: "A", and: "B")
        #expect(comparison.a.images == 2 && comparison.a.votes == 3 && comparison.a.approvals == 2)
        #expect(comparison.b.images == 3 && comparison.b.votes == 4 && comparison.b.approvals == 3)
        #expect(comparison.blindedOnly == false)
        #expect(comparison.verdict == .tooFewVotes)
        let pairs = comparison.headToHead
        #expect(pairs.pairs == 3 && pairs.aWins == 1 && pairs.bWins == 1 && pairs.ties == 1)
    }
}
