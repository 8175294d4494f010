import DroverCore
import DroverGit
import DroverServer
import DroverSlack
import DroverTestSupport
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// Makes `event_ts` values that increase from one reaction event to the next.
private let eventClock = Atomic<Int>(0)

let signingSecret = "test-signing-secret"

/// Drover with Slack pointed at `fake`, in a fresh directory.
func slackApp(_ directory: TemporaryDirectory, _ fake: FakeSlack, _ extra: [String: String] = [:]) async throws -> some ApplicationProtocol {
    try await buildApplication(try testConfiguration(directory, [
        "SLACK_BOT_TOKEN": FakeSlack.botToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": fake.apiURL,
    ].merging(extra) { $1 }), logger: testLogger)
}

/// A count read from the server's ledger in `directory`, through a read-only connection of its own.
func ledgerCount(_ sql: String, _ directory: TemporaryDirectory) throws -> Int {
    var configuration = Configuration()
    configuration.readonly = true
    let ledger = try DatabaseQueue(path: directory.path + "/drover.sqlite", configuration: configuration)
    return try ledger.read { try Int.fetchOne($0, sql: sql) ?? 0 }
}

extension TestClientProtocol {
    /// POSTs `body` signed as Slack would sign it at `time`.
    func slack(_ uri: String, _ body: String, contentType: String, time: Date = Date(), secret: String = signingSecret, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        let timestamp = String(Int(time.timeIntervalSince1970))
        var headers: HTTPFields = [.contentType: contentType]
        headers[HTTPField.Name("X-Slack-Request-Timestamp")!] = timestamp
        headers[HTTPField.Name("X-Slack-Signature")!] = SlackSignature(signingSecret: secret).sign(body: Array(body.utf8), timestamp: timestamp)
        headers.append(contentsOf: extra)
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func slashCommand(_ text: String, fake: FakeSlack, channel: String = "C0CHANNEL", trigger: String = UUID().uuidString) async throws -> TestResponse {
        let body = try formEncoded([
            ("token", "gIkuvaNzQIHg97ATvDxqgjtO"), ("team_id", "T0TEAM"), ("team_domain", "oxen"), ("channel_id", channel),
            ("channel_name", "images"), ("user_id", "U0ASKER"), ("user_name", "asker"), ("command", "/ox"), ("text", text),
            ("api_app_id", "A0APP"), ("response_url", fake.responseURL), ("trigger_id", trigger),
        ])
        return try await slack("/slack/commands", body, contentType: "application/x-www-form-urlencoded")
    }

    func reaction(_ type: String, _ reaction: String, by user: String, on ts: String, eventID: String = "Ev\(UUID().uuidString.prefix(8))", retry: Int? = nil) async throws -> TestResponse {
        // Each event happens after the one before, as a person's clicks do.
        let eventTS = "1700000001.\(String(format: "%06d", eventClock.add(1, ordering: .relaxed).newValue))"
        let body = """
        {"token":"XXYYZZ","team_id":"T0TEAM","api_app_id":"A0APP","type":"event_callback","event_id":"\(eventID)","event_time":1700000000,
         "authorizations":[{"team_id":"T0TEAM","user_id":"U0BOT","is_bot":true}],
         "event":{"type":"\(type)","user":"\(user)","reaction":"\(reaction)","item_user":"U0BOT",
                  "item":{"type":"message","channel":"C0CHANNEL","ts":"\(ts)"},"event_ts":"\(eventTS)"}}
        """
        var headers: HTTPFields = [:]
        if let retry {
            headers[HTTPField.Name("X-Slack-Retry-Num")!] = "\(retry)"
            headers[HTTPField.Name("X-Slack-Retry-Reason")!] = "http_timeout"
        }
        return try await slack("/slack/events", body, contentType: "application/json", headers: headers)
    }

    func click(_ actionID: String, image: String, by user: String, actionTS: String = "\(Date().timeIntervalSince1970)") async throws -> TestResponse {
        let payload = """
        {"type":"block_actions","user":{"id":"\(user)","team_id":"T0TEAM"},"team":{"id":"T0TEAM"},
         "container":{"type":"message","message_ts":"1700000000.000001","channel_id":"C0CHANNEL"},"channel":{"id":"C0CHANNEL"},
         "actions":[{"action_id":"\(actionID)","block_id":"b","value":"\(image)","type":"button","action_ts":"\(actionTS)"}]}
        """
        return try await slack("/slack/interactivity", try formEncoded([("payload", payload)]), contentType: "application/x-www-form-urlencoded")
    }

    func inboxDepth() async throws -> Int {
        let health = try await execute(uri: "/healthz", method: .get)
        return try #require((try health.json()["ledger"] as? [String: Any])?["inbox_depth"] as? Int)
    }
}

@Suite struct SlackRequestTests {
    @Test func unsignedForgedAndStaleRequestsAre401AndWriteNothing() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                let body = #"{"type":"event_callback","event_id":"Ev1","team_id":"T0TEAM","event":{"type":"reaction_added","user":"U1","reaction":"+1","item":{"type":"message","channel":"C1","ts":"1.2"}}}"#
                let unsigned = try await client.execute(uri: "/slack/events", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(unsigned.status == .unauthorized)
                let forged = try await client.slack("/slack/events", body, contentType: "application/json", secret: "wrong-secret")
                #expect(forged.status == .unauthorized)
                let stale = try await client.slack("/slack/events", body, contentType: "application/json", time: Date().addingTimeInterval(-301))
                #expect(stale.status == .unauthorized)
                let future = try await client.slack("/slack/commands", "ssl_check=1", contentType: "application/x-www-form-urlencoded", time: Date().addingTimeInterval(400))
                #expect(future.status == .unauthorized)
                // A signature header sent twice is no signature, even when both are right.
                let now = Date()
                let signature = SlackSignature(signingSecret: signingSecret).sign(body: Array(body.utf8), timestamp: String(Int(now.timeIntervalSince1970)))
                for uri in ["/slack/events", "/slack/interactivity"] {
                    let twice = try await client.slack(uri, body, contentType: "application/json", time: now, headers: [HTTPField.Name("X-Slack-Signature")!: signature])
                    #expect(twice.status == .unauthorized, "\(uri)")
                }
                #expect(try await client.inboxDepth() == 0)
                #expect(fake.state.withLock { $0.calls.isEmpty })
            }
        }
    }

    @Test func urlVerificationEchoesTheChallenge() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                let body = #"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#
                let response = try await client.slack("/slack/events", body, contentType: "application/json")
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
                let ssl = try await client.slack("/slack/commands", "ssl_check=1&token=x", contentType: "application/x-www-form-urlencoded")
                #expect(ssl.status == .ok && ssl.body.readableBytes == 0)
            }
        }
    }

    @Test func helpAndMistakesAnswerEphemerallyWithoutWork() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                let help = try await client.slashCommand("help", fake: fake)
                #expect(try help.json()["response_type"] as? String == "ephemeral")
                #expect((try help.json()["text"] as? String)?.contains("--seed") == true)
                let mistake = try await client.slashCommand("--n 99 an ox", fake: fake)
                #expect((try mistake.json()["text"] as? String)?.hasPrefix("--n takes a number from 1 to 8") == true)
                #expect(try await client.inboxDepth() == 0)
            }
        }
    }
}

@Suite struct SlackFlowTests {
    /// `/ox --n 2` → ephemeral ack → two private uploads (files v2) → two image messages with
    /// buttons → each message mapped to its image → votes by reaction and button become commits.
    @Test func oxPostsImagesAndReactionsAndButtonsVote() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                let ack = try await client.slashCommand("--n 2 --seed 9 a fluffy ox eating almonds", fake: fake)
                #expect(ack.status == .ok)
                #expect(try ack.json()["response_type"] as? String == "ephemeral")
                #expect((try ack.json()["text"] as? String)?.contains("Generating 2 images") == true)

                try await eventually("two image messages") { fake.posted.count == 2 }
                let tickets = fake.calls("files.getUploadURLExternal")
                #expect(tickets.count == 2 && tickets.allSatisfy { $0.fields["filename"]?.hasSuffix(".png") == true })
                let completions = fake.calls("files.completeUploadExternal")
                #expect(completions.count == 2 && completions.allSatisfy { $0.fields["channel_id"] == nil }, "uploaded privately")
                let uploads = fake.state.withLock { $0.uploads }
                let imageIDs = uploads.values.map { ImageID(pngBytes: $0).rawValue }
                let posts = fake.calls("chat.postMessage")
                for post in posts {
                    #expect(post.fields["channel"] == "C0CHANNEL")
                    let blocks = post.fields["blocks"] ?? ""
                    #expect(blocks.contains(#""slack_file":{"id":"F"#) && blocks.contains(VoteButton.approveActionID))
                    #expect(imageIDs.contains { blocks.contains($0) })
                }
                try await eventually("the images' commit") { try await commitCount(directory) == 2 }
                let provenance = try await datasetGit(directory).committedProvenance().joined(separator: "\n")
                #expect(provenance.contains(#""posted_to":"slack:T0TEAM/C0CHANNEL""#) && provenance.contains(#""seed":9"#))

                // The first message's ts maps to the image in its blocks.
                let firstTS = fake.posted[0]
                let firstImage = try #require(imageIDs.first { posts[0].fields["blocks"]!.contains($0) })
                #expect(try await client.reaction("reaction_added", "+1::skin-tone-3", by: "U0ALICE", on: firstTS).status == .ok)
                try await eventually("alice's 👍") { try await commitCount(directory) == 3 }
                #expect(try await committedTrainRows(directory).first?.contains("\(datasetPath(firstImage)),Approve,") == true)

                _ = try await client.reaction("reaction_added", "-1", by: "U0ALICE", on: firstTS)
                try await eventually("alice's change to 👎") { try await commitCount(directory) == 4 }
                _ = try await client.reaction("reaction_removed", "+1::skin-tone-3", by: "U0ALICE", on: firstTS)
                _ = try await client.reaction("reaction_added", "tada", by: "U0ALICE", on: firstTS)
                _ = try await client.reaction("reaction_added", "+1", by: "U0BOT", on: firstTS)
                _ = try await client.reaction("reaction_added", "+1", by: "U0ALICE", on: "1600000000.000001")
                try await eventually("the inbox to drain") { try await client.inboxDepth() == 0 }
                #expect(try await commitCount(directory) == 4, "removing the replaced 👍, other emoji, the bot and other messages change nothing")
                #expect(try await committedTrainRows(directory).count == 1)
                #expect(try await committedTrainRows(directory).first?.contains(",Disapprove,") == true)

                _ = try await client.reaction("reaction_removed", "-1", by: "U0ALICE", on: firstTS)
                try await eventually("alice's retraction") { try await commitCount(directory) == 5 }
                #expect(try await committedTrainRows(directory).isEmpty)

                // Buttons: a click votes, the same click again takes it back; tallies are updated.
                _ = try await client.click(VoteButton.approveActionID, image: firstImage, by: "U0BOB", actionTS: "1.1")
                try await eventually("bob's click") { try await commitCount(directory) == 6 }
                #expect(try await committedTrainRows(directory).count == 1)
                try await eventually("the tallies on the message") {
                    fake.calls("chat.update").contains { $0.fields["ts"] == firstTS && $0.fields["blocks"]?.contains("👍 1") == true }
                }
                _ = try await client.click(VoteButton.approveActionID, image: firstImage, by: "U0BOB", actionTS: "1.2")
                try await eventually("bob's second click") { try await commitCount(directory) == 7 }
                #expect(try await committedTrainRows(directory).isEmpty)
                let subjects = try await datasetGit(directory).run(["log", "-2", "--format=%s"])
                #expect(subjects.hasPrefix("Retract Approve on image \(firstImage)"))
            }
        }
    }

    @Test func aRetriedDeliveryVotesOnce() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                _ = try await client.slashCommand("--seed 1 an ox", fake: fake)
                try await eventually("the image message") { fake.posted.count == 1 }
                try await eventually("the image's commit") { try await commitCount(directory) == 2 }
                let ts = fake.posted[0]
                for retry in [nil, 1, 2, 3] {
                    let response = try await client.reaction("reaction_added", "+1", by: "U0CAROL", on: ts, eventID: "Ev0SAME", retry: retry)
                    #expect(response.status == .ok)
                    // Acknowledged means durable: the delivery is in the inbox, once; the vote lane
                    // applies it right after.
                    #expect(try ledgerCount("SELECT count(*) FROM inboxItem WHERE kind = 'slack-reaction'", directory) == 1)
                    try await eventually("the vote applied") {
                        try ledgerCount("SELECT count(*) FROM inboxItem WHERE state = 'done' AND kind = 'slack-reaction'", directory) == 1
                    }
                    #expect(try ledgerCount("SELECT count(*) FROM vote", directory) == 1)
                }
                try await eventually("carol's vote") { try await commitCount(directory) == 3 }
                try await eventually("the vote counted once in the metrics") {
                    let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                    return metrics.split(separator: "\n").contains(#"drover_votes_total{source="slack-reaction"} 1"#)
                }
                try await eventually("the inbox to drain") { try await client.inboxDepth() == 0 }
                #expect(try await commitCount(directory) == 3)
                #expect(try await committedTrainRows(directory).count == 1)
            }
        }
    }

    @Test func rateLimitsAndTooEarlyPostsAreRidden() async throws {
        try await FakeSlack.run { fake in
            fake.state.withLock {
                $0.rateLimits["files.getUploadURLExternal"] = 1
                $0.fileReadyAfter = .milliseconds(2_500)
            }
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                _ = try await client.slashCommand("an ox", fake: fake)
                try await eventually("the image message despite the 429 and invalid_blocks") { fake.posted.count == 1 }
                #expect(fake.calls("chat.postMessage").count > 1, "the too-early post was retried")
                #expect(fake.calls("files.getUploadURLExternal").count == 2, "retried once after the 429")
                #expect(fake.responses.isEmpty, "nothing went wrong for the user")
            }
        }
    }

    @Test func aChannelWithoutTheBotIsToldToInviteIt() async throws {
        try await FakeSlack.run { fake in
            fake.state.withLock { _ = $0.channelsWithoutBot.insert("C0PRIVATE") }
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await slackApp(directory, fake).test(.live) { client in
                _ = try await client.slashCommand("an ox", fake: fake, channel: "C0PRIVATE")
                try await eventually("the user to be told") { !fake.responses.isEmpty }
                #expect(fake.responses.first?.contains("/invite @Drover") == true)
                #expect(fake.responses.first?.contains(#""response_type":"ephemeral""#) == true)
                try await eventually("the inbox to drain") { try await client.inboxDepth() == 0 }
            }
        }
    }
}

extension SlackFlowTests {
    /// `/ox stats` answers only the requester, at once: the comparison of the first two versions
    /// with traffic (a version without traffic is left out), and the dashboard link only with
    /// `DROVER_PUBLIC_URL`.
    @Test func statsAnswersPrivatelyWithTheComparison() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try """
                [[version]]
                name = "base"
                backend = "procedural"
                weight = 1

                [[version]]
                name = "retired"
                backend = "procedural"
                weight = 0

                [[version]]
                name = "tuned"
                backend = "procedural"
                weight = 1
                """.write(toFile: directory.path + "/models.toml", atomically: true, encoding: .utf8)
            try await slackApp(directory, fake).test(.live) { client in
                let before = try await client.slashCommand("stats", fake: fake)
                #expect(try before.json()["response_type"] as? String == "ephemeral")
                let empty = try #require(try before.json()["text"] as? String)
                #expect(empty.contains("`tuned` against `base`") && empty.contains("No votes for base or tuned yet"), "\(empty)")
                #expect(!empty.contains("retired") && !empty.contains("dashboard"), "\(empty)")

                let made = try await client.post(
                    "/api/generations", json: #"{"prompt": "an ox", "n": 8, "width": 64, "height": 64}"#,
                    headers: [HTTPField.Name("Idempotency-Key")!: "stats-1"]
                )
                let images = try #require(try made.json()["images"] as? [[String: Any]]).compactMap { $0["id"] as? String }
                for id in images {
                    _ = try await client.post("/api/votes", json: #"{"image_id": "\#(id)", "rater": "ann", "rating": "up"}"#)
                }
                try await eventually("ann's votes") { try ledgerCount("SELECT count(*) FROM vote", directory) == 8 }
                let compared = try await client.execute(uri: "/api/compare?a=base&b=tuned", method: .get).json()
                let text = try #require(try await client.slashCommand("stats", fake: fake).json()["text"] as? String)
                #expect(text.contains("*So far:* 8 votes from 1 rater on 8 images."), "\(text)")
                for side in ["a", "b"] {
                    let version = try #require(compared[side] as? [String: Any])
                    let name = try #require(version["model_version"] as? String)
                    let votes = try #require(version["votes"] as? Int)
                    guard votes > 0 else { continue }
                    #expect(text.contains("`\(name)`: 100.0 % approved (95 % interval "), "\(text)")
                    #expect(text.contains(" \(votes == 1 ? "1 vote" : "\(votes) votes") on "), "\(text)")
                }
                #expect(text.contains(try #require(compared["summary"] as? String)), "the comparison's own words")
                #expect(!text.contains("dashboard"))
                #expect(fake.calls("chat.postMessage").isEmpty && fake.responses.isEmpty, "nothing posted: the answer is the acknowledgement")
            }
            try await waitForDatasetLock(directory)
            try await slackApp(directory, fake, ["DROVER_PUBLIC_URL": "https://drover.example.com/"]).test(.live) { client in
                let text = try #require(try await client.slashCommand("stats", fake: fake).json()["text"] as? String)
                #expect(text.contains("<https://drover.example.com/|Open the dashboard>"), "\(text)")
            }
        }
    }
}

@Suite struct SlackFailureTests {
    /// The generator answers with an error: the requester is told what failed, nothing is posted.
    @Test func aGeneratorFailureIsReportedToTheRequester() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            // An OpenAI-compatible backend whose every answer is 404: the fake has no such route.
            let brokenBackend = fake.apiURL.replacingOccurrences(of: "/api/", with: "/no-such-backend")
            try await slackApp(directory, fake, ["DROVER_GENERATOR": "openai", "DROVER_GENERATOR_URL": brokenBackend]).test(.live) { client in
                let ack = try await client.slashCommand("an ox", fake: fake)
                #expect((try ack.json()["text"] as? String)?.hasPrefix("Generating") == true)
                try await eventually("the requester to be told") { !fake.responses.isEmpty }
                #expect(fake.responses[0].contains("Sorry, I could not generate “an ox”"))
                #expect(fake.posted.isEmpty && fake.calls("files.getUploadURLExternal").isEmpty)
                #expect(try await commitCount(directory) == 1)
            }
        }
    }
}
