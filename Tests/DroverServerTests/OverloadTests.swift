import DroverCore
import DroverServer
import DroverSlack
import DroverTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@Suite struct OverloadTests {
    /// With Slack answering slowly, `/ox` requests pile up; past the bound a new one is told
    /// politely to come back instead of waiting, and votes keep landing.
    @Test func aSlowSlackTurnsNewRequestsAwayButNotVotes() async throws {
        try await FakeSlack.run { fake in
            fake.state.withLock { $0.delays["files.getUploadURLExternal"] = .seconds(2) }
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake, ["DROVER_MAX_QUEUED_COMMANDS": "2"]).test(.live) { client in
                var answers: [String] = []
                // Each is answered at once (its speed is the ingest benchmark's business, not a test's).
                for index in 0..<3 {
                    let ack = try await client.slashCommand("--n 8 --seed \(index) an ox", fake: fake)
                    answers.append(try ack.json()["text"] as? String ?? "")
                }
                #expect(answers[0].hasPrefix("Generating") && answers[1].hasPrefix("Generating"))
                #expect(answers[2].contains("busy") && answers[2].contains("try again in a minute"))

                // Votes go through their own lane while the uploads crawl.
                let generation = try await client.post("/api/generations", json: #"{"prompt": "a web ox", "seed": 1}"#)
                let imageID = try #require((try generation.json()["images"] as? [[String: String]])?.first?["id"])
                let vote = try await client.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "dora", "rating": "up"}"#)
                #expect(vote.status == .accepted)
                // 0.1–0.4 s on an idle machine; the whole suite running on two cores has taken
                // more than 10. The Slack work takes 32 s (sixteen uploads, 2 s each).
                try await eventually("dora's vote in train.csv", timeout: .seconds(20)) { try await committedTrainRows(directory).count == 1 }
                #expect(fake.posted.count < 16, "the slow Slack work was still going on")
            }
        }
    }
}
