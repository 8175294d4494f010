import DroverDataset
import DroverGit
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@Suite struct CrashSafetyTests {
    /// N votes acknowledged with 202, the server killed with SIGKILL before its committer ran
    /// (a long gather window holds commits back), then restarted: all N are committed exactly once.
    @Test func acknowledgedVotesSurviveKillNine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let voteCount = 20
        let first = try await ServerProcess(dataDirectory: directory.path, environment: ["DROVER_COMMIT_WINDOW_MS": "600000"])
        let generation = try await first.post("/api/generations", json: #"{"prompt": "an ox", "seed": 3}"#)
        #expect(generation.status == 201)
        let imageID = try #require((generation.body["images"] as? [[String: String]])?.first?["id"])
        for rater in 0..<voteCount {
            let vote = try await first.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "rater-\#(rater)", "rating": "\#(rater % 3 == 0 ? "down" : "up")"}"#)
            #expect(vote.status == 202)
        }
        first.kill()
        #expect(try await commitCount(directory) == 1, "nothing was committed before the kill")

        let second = try await ServerProcess(dataDirectory: directory.path)
        defer { _ = second.terminate() }
        try await eventually("every acknowledged vote in train.csv") { try await committedTrainRows(directory).count == voteCount }

        let rows = try await committedTrainRows(directory)
        #expect(Set(rows.map { $0.split(separator: ",")[3] }).count == voteCount, "one row per rater")
        #expect(rows.filter { $0.contains(",Disapprove,") }.count == (0..<voteCount).filter { $0 % 3 == 0 }.count)
        let git = datasetGit(directory)
        let trailers = try await git.run(["log", "--format=%(trailers:key=Drover-Vote-Events,valueonly)"])
        let eventIDs = trailers.split(whereSeparator: { $0 == " " || $0 == "\n" })
        #expect(eventIDs.count == voteCount && Set(eventIDs).count == voteCount, "each vote committed exactly once")
        #expect(try await git.run(["fsck", "--strict"]).isEmpty)
    }

    @Test func gracefulShutdownCommitsWhatWasAcknowledged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await ServerProcess(dataDirectory: directory.path, environment: ["DROVER_COMMIT_WINDOW_MS": "600000"])
        let generation = try await server.post("/api/generations", json: #"{"prompt": "an ox", "seed": 4}"#)
        let imageID = try #require((generation.body["images"] as? [[String: String]])?.first?["id"])
        let vote = try await server.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "carol", "rating": "up"}"#)
        #expect(vote.status == 202)
        #expect(server.terminate() == 0)
        #expect(try await committedTrainRows(directory).count == 1)
    }
}
