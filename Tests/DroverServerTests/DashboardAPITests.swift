import DroverCore
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct DashboardAPITests {
    static let unknownImage = "0123456789abcdef"

    /// Every bad query or body on the dashboard's routes is a 4xx with a message, and writes nothing.
    @Test func badInputIsRefusedWithAMessage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        let cases: [(method: HTTPRequest.Method, uri: String, body: String?, status: HTTPResponse.Status)] = [
            (.get, "/api/dashboard/images?limit=0", nil, .badRequest),
            (.get, "/api/dashboard/images?limit=101", nil, .badRequest),
            (.get, "/api/dashboard/images?limit=ten", nil, .badRequest),
            (.get, "/api/dashboard/images?offset=-1", nil, .badRequest),
            (.get, "/api/dashboard/images?state=loved", nil, .badRequest),
            (.get, "/api/dashboard/images?sort=random", nil, .badRequest),
            (.get, "/api/dashboard/images?source=email", nil, .badRequest),
            (.get, "/api/dashboard/images?q=\(String(repeating: "o", count: 201))", nil, .badRequest),
            (.get, "/api/dashboard/images?model_version=\(String(repeating: "v", count: 201))", nil, .badRequest),
            (.get, "/api/dashboard/images?rater=\(String(repeating: "r", count: 101))", nil, .badRequest),
            (.get, "/api/dashboard/images/not-an-id", nil, .badRequest),
            (.get, "/api/dashboard/images/\(Self.unknownImage)", nil, .notFound),
            (.get, "/api/dashboard/history?limit=0", nil, .badRequest),
            (.get, "/api/dashboard/history?limit=51", nil, .badRequest),
            (.get, "/api/dashboard/raters?limit=501", nil, .badRequest),
            (.get, "/api/dashboard/overview?days=0", nil, .badRequest),
            (.get, "/api/dashboard/overview?days=366", nil, .badRequest),
            (.get, "/dashboard/nothing.js", nil, .notFound),
            (.get, "/dashboard/..%2F..%2FPackage.swift", nil, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1}"#, .badRequest),
            (.post, "/api/reverts", #"{"reason": "spam"}"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1, "commit": "abc", "reason": "spam"}"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1, "reason": "   "}"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1, "reason": "two\nlines"}"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 1, "reason": "\#(String(repeating: "r", count: 501))"}"#, .badRequest),
            (.post, "/api/reverts", #"{"vote_event": 999, "reason": "spam"}"#, .notFound),
            (.post, "/api/reverts", #"{"commit": "--all", "reason": "spam"}"#, .badRequest),
            (.post, "/api/reverts", #"{"commit": "abcdef12", "reason": "spam"}"#, .notFound),
        ]
        try await app.test(.live) { client in
            for input in cases {
                let response = try await client.execute(
                    uri: input.uri, method: input.method, headers: [.contentType: "application/json"], body: input.body.map { ByteBuffer(string: $0) }
                )
                #expect(response.status == input.status, "\(input.method) \(input.uri) \(input.body ?? "")")
                let message = (try? response.json()["error"] as? [String: Any])?["message"] as? String
                #expect(message?.isEmpty == false, "\(input.uri): a 4xx says why")
            }
        }
        #expect(try await commitCount(directory) == 1)
    }

    /// Two images, three votes, over real HTTP: each route's figures, then a revert of a vote
    /// and of a commit, read back from git.
    @Test func routesAnswerFromTheLedgerAndTheDataset() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        let pseudonyms = RaterPseudonymizer(salt: Array("pepper".utf8))
        let alice = pseudonyms.pseudonym(team: "web", user: "alice"), bob = pseudonyms.pseudonym(team: "web", user: "bob")

        try await app.test(.live) { client in
            let generation = try await client.post("/api/generations", json: #"{"prompt": "a fluffy ox eating almonds", "n": 2, "seed": 7}"#)
            let images = try #require((try generation.json()["images"] as? [[String: String]])?.compactMap { $0["id"] })
            try await eventually("the images' commit") { try await commitCount(directory) == 2 }
            // One vote at a time, so that each has a commit of its own.
            for (index, (image, rater, rating)) in [(images[0], "alice", "up"), (images[0], "bob", "down"), (images[1], "alice", "up")].enumerated() {
                _ = try await client.post("/api/votes", json: #"{"image_id": "\#(image)", "rater": "\#(rater)", "rating": "\#(rating)"}"#)
                try await eventually("the vote's commit") { try await commitCount(directory) == 3 + index }
            }

            func get(_ uri: String) async throws -> [String: Any] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok, "\(uri)")
                return try response.json()
            }
            func ids(_ uri: String) async throws -> [String] {
                (try await get(uri)["images"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await ids("/api/dashboard/images?state=disputed") == [images[0]])
            #expect(try await ids("/api/dashboard/images?state=approved") == [images[1]])
            #expect(try await ids("/api/dashboard/images?state=unrated").isEmpty)
            #expect(try await ids("/api/dashboard/images?sort=most_votes") == [images[0], images[1]])
            #expect(try await ids("/api/dashboard/images?q=almonds&model_version=0-1&source=web").count == 2)
            #expect(try await ids("/api/dashboard/images?source=slack").isEmpty)
            let firstPage = try await get("/api/dashboard/images?limit=1")
            #expect(firstPage["next_offset"] as? Int == 1)
            let cards = try #require(try await get("/api/dashboard/images?rater=\(alice)&sort=most_votes")["images"] as? [[String: Any]])
            #expect(cards.map { $0["your_rating"] as? String } == ["up", "up"])
            #expect(cards[0]["approvals"] as? Int == 1 && cards[0]["disapprovals"] as? Int == 1)
            #expect(cards[0]["model_version"] == nil, "the grid does not name versions: raters vote blind")
            #expect((try await get("/api/dashboard/images")["images"] as? [[String: Any]])?.first?.keys.contains("your_rating") == false)

            let image = try await get("/api/dashboard/images/\(images[0])")
            let events = try #require(image["events"] as? [[String: Any]])
            #expect(events.map { $0["rater"] as? String } == [alice, bob])
            #expect(events.allSatisfy { $0["active"] as? Bool == true && $0["source"] as? String == "web" && $0["commit"] is String })
            #expect((image["provenance"] as? [String: Any])?["model_version"] as? String == "0-1")
            let holding = try #require(image["commits"] as? [[String: Any]])
            #expect(holding.count == 3, "bob's vote, alice's vote, and the images")
            let bobsRow = try #require((holding[0]["added_rows"] as? [[String: String]])?.first)
            #expect(bobsRow["rater"] == bob && bobsRow["rating"] == "Disapprove" && bobsRow["path"] == "\(datasetPath(images[0]))")
            #expect((holding[2]["added_images"] as? [String])?.count == 2)

            let history = try await get("/api/dashboard/history?limit=2")
            #expect((history["commits"] as? [[String: Any]])?.count == 2 && history["next_offset"] as? Int == 2)
            let oldest = try await get("/api/dashboard/history?limit=2&offset=4")
            #expect((oldest["commits"] as? [[String: Any]])?.first?["subject"] as? String == "Create the Drover dataset")
            #expect(oldest["next_offset"] is NSNull)

            let overview = try await get("/api/dashboard/overview?days=7")
            let today = try #require((overview["votes_per_day"] as? [[String: Any]])?.last)
            #expect(today["approvals"] as? Int == 2 && today["disapprovals"] as? Int == 1)
            #expect((overview["votes_per_day"] as? [Any])?.count == 7)
            #expect((overview["commits_per_day"] as? [[String: Any]])?.last?["commits"] as? Int == 5)
            #expect(overview["model_versions"] as? [String] == ["0-1"])
            let waiting = try #require(overview["waiting"] as? [String: Any])
            #expect(waiting["inbox_depth"] as? Int == 0 && waiting["uncommitted_changes"] as? Int == 0 && waiting["unpushed_commits"] is NSNull)

            let raters = try #require(try await get("/api/dashboard/raters")["raters"] as? [[String: Any]])
            #expect(raters.map { $0["rater"] as? String } == [alice, bob])
            #expect(raters[0]["approval_rate"] as? Double == 1 && raters[0]["with_majority"] as? Int == 1 && raters[0]["agreeing"] as? Int == 0)

            // Revert bob's vote: the same change set as `drover revert <event>`.
            let bobsEvent = try #require(events[1]["id"] as? Int)
            let revert = try await client.post("/api/reverts", json: #"{"vote_event": \#(bobsEvent), "reason": "spam account"}"#)
            #expect(revert.status == .accepted)
            #expect(try revert.json()["vote_events"] as? [Int] == [4])
            try await eventually("the revert's commit") { try await commitCount(directory) == 6 }
            #expect(try await datasetGit(directory).run(["log", "-1", "--format=%s"]).trimmingWhitespace() == "Revert 1 vote of event \(bobsEvent): spam account")
            #expect(try await committedTrainRows(directory).allSatisfy { !$0.contains(bob) })
            let again = try await client.post("/api/reverts", json: #"{"vote_event": \#(bobsEvent), "reason": "spam account"}"#)
            #expect(again.status == .conflict)

            // Revert a commit by its abbreviated hash: alice's vote on the second image.
            let voteCommit = try await datasetGit(directory).run(["log", "-1", "--format=%H", "--grep", "^Approve image \(images[1])"])
                .trimmingWhitespace()
            let byCommit = try await client.post("/api/reverts", json: #"{"commit": "\#(voteCommit.prefix(10))", "reason": "test votes"}"#)
            #expect(byCommit.status == .accepted)
            try await eventually("the second revert's commit") { try await commitCount(directory) == 7 }
            #expect(try await committedTrainRows(directory).map { $0.split(separator: ",")[1] } == ["\(datasetPath(images[0]))"])
        }
    }

    @Test func thePageAndItsFilesAreServed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok && page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            for file in ["/dashboard/app.js", "/dashboard/charts.js", "/dashboard/app.css", "/dashboard/favicon.svg"] {
                #expect(html.contains(file))
                let response = try await client.execute(uri: file, method: .get)
                #expect(response.status == .ok, "\(file)")
            }
            // Nothing is fetched from elsewhere.
            #expect(!html.contains("http://") && !html.contains("https://"))
            let icon = try await client.execute(uri: "/favicon.ico", method: .get)
            #expect(icon.status == .ok && icon.headers[.contentType] == "image/svg+xml")
            let script = try await client.execute(uri: "/dashboard/app.js", method: .get)
            #expect(script.headers[.contentType]?.contains("javascript") == true && script.headers[.cacheControl] == "no-cache")
        }
    }
}
