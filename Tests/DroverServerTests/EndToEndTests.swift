import DroverCore
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite struct EndToEndTests {
    /// generate → vote up → change to down → retract, over real HTTP on 127.0.0.1, then read the
    /// repository back with git.
    @Test func generateVoteChangeRetract() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        let alice = RaterPseudonymizer(salt: Array("pepper".utf8)).pseudonym(team: "web", user: "alice")

        try await app.test(.live) { client in
            let generation = try await client.post("/api/generations", json: #"{"prompt": "a fluffy ox eating almonds", "n": 2, "seed": 7}"#)
            #expect(generation.status == .created)
            let images = try #require(try generation.json()["images"] as? [[String: String]])
            #expect(images.count == 2)
            let imageID = try #require(images.first?["id"])
            #expect(images.first?["url"] == "/images/\(imageID).png")
            let png = try await client.execute(uri: "/images/\(imageID).png", method: .get)
            #expect(png.status == .ok && png.headers[.contentType] == "image/png")
            #expect(ImageID(pngBytes: Array(buffer: png.body)).rawValue == imageID)
            try await eventually("the images' commit") { try await commitCount(directory) == 2 }

            let steps: [(rating: String, rows: [String])] = [
                ("up", ["a fluffy ox eating almonds,\(datasetPath(imageID)),Approve,\(alice),0-1"]),
                ("down", ["a fluffy ox eating almonds,\(datasetPath(imageID)),Disapprove,\(alice),0-1"]),
                ("none", []),
            ]
            for (index, step) in steps.enumerated() {
                let vote = try await client.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "alice", "rating": "\#(step.rating)"}"#)
                #expect(vote.status == .accepted)
                #expect(try vote.json()["rater"] as? String == alice)
                try await eventually("the \(step.rating) vote's commit") { try await commitCount(directory) == 3 + index }
                let rows = try await committedTrainRows(directory).map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
                #expect(rows == step.rows)
            }

            let subjects = try await datasetGit(directory).run(["log", "--format=%s"]).split(separator: "\n")
            #expect(subjects == [
                "Retract Disapprove on image \(imageID) by rater \(alice)",
                "Change to Disapprove on image \(imageID) by rater \(alice) (was Approve)",
                "Approve image \(imageID) by rater \(alice)",
                "Add 2 images for \"a fluffy ox eating almonds\"",
                "Create the Drover dataset",
            ])
            let commits = try await client.execute(uri: "/api/commits?limit=2", method: .get)
            let listed = try #require(try commits.json()["commits"] as? [[String: String]])
            #expect(listed.map { $0["subject"] } == subjects.prefix(2).map(String.init))
            let listing = try await client.execute(uri: "/api/images", method: .get)
            let summaries = try #require(try listing.json()["images"] as? [[String: Any]])
            #expect(summaries.count == 2 && summaries.allSatisfy { ($0["approvals"] as? Int) == 0 })
        }
        #expect(try await datasetGit(directory).run(["fsck", "--strict"]).isEmpty)
        #expect(try await datasetGit(directory).run(["status", "--porcelain"]).isEmpty)
    }

    @Test func theSameIdempotencyKeyVotesOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        try await app.test(.live) { client in
            let generation = try await client.post("/api/generations", json: #"{"prompt": "an ox", "seed": 1}"#)
            let imageID = try #require((try generation.json()["images"] as? [[String: String]])?.first?["id"])
            try await eventually("the image's commit") { try await commitCount(directory) == 2 }
            let body = #"{"image_id": "\#(imageID)", "rater": "bob", "rating": "up"}"#
            let first = try await client.post("/api/votes", json: body, headers: [.idempotencyKey: "click-1"])
            let retry = try await client.post("/api/votes", json: body, headers: [.idempotencyKey: "click-1"])
            #expect(try first.json()["status"] as? String == "accepted")
            #expect(try retry.json()["status"] as? String == "duplicate")
            try await eventually("the vote's commit") { try await commitCount(directory) == 3 }
            #expect(try await committedTrainRows(directory).count == 1)
        }
    }

    @Test func healthReportsEachPart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        try await app.test(.live) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            let json = try health.json()
            #expect(json["status"] as? String == "ok")
            #expect((json["ledger"] as? [String: Any])?["inbox_depth"] as? Int == 0)
            try await eventually("the committer has loaded the dataset") {
                let dataset = try await client.execute(uri: "/healthz", method: .get).json()["dataset"] as? [String: Any]
                return dataset?["loading"] as? Bool == false
            }
            let versions = (json["generator"] as? [String: Any])?["versions"] as? [[String: Any]]
            #expect(versions?.map { $0["backend"] as? String } == ["procedural"] && versions?.first?["name"] as? String == "0-1")
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok && String(buffer: page.body).contains("<title>Drover</title>"))
        }
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
}
