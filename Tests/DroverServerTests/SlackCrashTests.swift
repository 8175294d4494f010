import DroverCore
import DroverGit
import DroverSlack
import DroverTestSupport
import Foundation
import Testing

/// Drover's central promise under fire: 2,000 signed reaction events over 50 images and 30
/// users, every delivery not acknowledged within 3 s re-sent as Slack does (same `event_id`,
/// `X-Slack-Retry-Num`), and the server killed with SIGKILL at three random moments and
/// restarted. At the end the dataset holds exactly the vote state the events imply.
@Suite struct SlackCrashTests {
    struct Vote: Hashable {
        var ts: String
        var user: String
    }

    @Test func twoThousandEventsThreeKillsExactlyOnce() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let environment = [
                "SLACK_BOT_TOKEN": FakeSlack.botToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": fake.apiURL,
                "LOG_LEVEL": "trace",
            ]
            let log = directory.path + "/server.log"
            var server = try await ServerProcess(dataDirectory: directory.path, environment: environment, logFile: log)

            // 56 image messages from seven `/ox --n 8`.
            for seed in 1...7 {
                let body = try formEncoded([
                    ("team_id", "T0TEAM"), ("channel_id", "C0CHANNEL"), ("user_id", "U0ASKER"), ("command", "/ox"),
                    ("text", "--n 8 --seed \(seed * 100) an ox number \(seed)"), ("response_url", fake.responseURL), ("trigger_id", "trigger-\(seed)"),
                ])
                #expect(await server.deliver("/slack/commands", body: body, headers: Self.signedHeaders(body, type: "application/x-www-form-urlencoded")) == 200)
            }
            try await eventually("56 image messages", timeout: .seconds(120)) { fake.posted.count == 56 }
            let messages = Array(fake.posted.prefix(50))
            let users = (0..<30).map { "U0VOTER\($0)" }

            var random = BadInputFuzzTests.Random(state: 7)
            let killAt = Set((0..<3).map { _ in 100 + random.below(1_800) })
            // The reactions each user has on each message, with when they were added: a user's
            // rating is their newest reaction still there.
            var present: [Vote: [Rating: Int]] = [:]
            var retries = 0
            for index in 0..<2_000 {
                let vote = Vote(ts: random.pick(messages), user: random.pick(users))
                let rating: Rating = random.below(2) == 0 ? .approve : .disapprove
                let added = present[vote, default: [:]][rating] == nil
                let reaction = (rating == .approve ? "+1" : "-1") + (random.below(4) == 0 ? "::skin-tone-\(2 + random.below(5))" : "")
                let eventTS = "1700000001.\(String(format: "%06d", index))"
                let body = #"{"token":"x","team_id":"T0TEAM","api_app_id":"A0APP","type":"event_callback","event_id":"Ev0CRASH\#(index)","event_time":1700000001,"authorizations":[{"team_id":"T0TEAM","user_id":"U0BOT","is_bot":true}],"event":{"type":"\#(added ? "reaction_added" : "reaction_removed")","user":"\#(vote.user)","reaction":"\#(reaction)","item_user":"U0BOT","item":{"type":"message","channel":"C0CHANNEL","ts":"\#(vote.ts)"},"event_ts":"\#(eventTS)"}}"#
                present[vote, default: [:]][rating] = added ? index : nil

                var attempt = 0
                while true {
                    var headers = Self.signedHeaders(body, type: "application/json")
                    if attempt > 0 { headers += [("X-Slack-Retry-Num", "\(min(attempt, 3))"), ("X-Slack-Retry-Reason", "http_timeout")] }
                    let delivery = Task { [server] in await server.deliver("/slack/events", body: body, headers: headers) }
                    if attempt == 0, killAt.contains(index) {
                        try await Task.sleep(for: .milliseconds(random.below(5)))
                        server.kill()
                    }
                    if await delivery.value == 200 { break }
                    attempt += 1
                    retries += 1
                    if !server.isRunning {
                        server = try await ServerProcess(dataDirectory: directory.path, environment: environment, logFile: log)
                    }
                }
            }
            #expect(retries >= 3, "the kills forced redeliveries")

            let expected = present.compactMapValues { reactions in reactions.max { $0.value < $1.value }?.key }
            let rater = RaterPseudonymizer(salt: Array("pepper".utf8))
            let wanted = Set(expected.map { vote, rating in
                "\(datasetPath(fake.image(inMessage: vote.ts) ?? "?")),\(rating.rawValue),\(rater.pseudonym(team: "T0TEAM", user: vote.user))"
            })
            @Sendable func committedVotes() async throws -> [String] {
                try await committedTrainRows(directory).map { row in row.split(separator: ",").dropFirst().prefix(3).joined(separator: ",") }
            }
            // Every vote is in the ledger once acknowledged; the last ones reach a commit a moment
            // later (a change of rating leaves the row count as it was, so wait for the rows).
            try await eventually("train.csv to hold exactly the state the events imply", timeout: .seconds(120)) {
                let rows = try await committedVotes()
                return rows.count == wanted.count && Set(rows) == wanted
            }
            let rows = try await committedVotes()
            #expect(rows.count == wanted.count, "one row per rater and image")
            #expect(Set(rows).symmetricDifference(wanted).isEmpty, "train.csv is exactly the state the events imply")

            let git = datasetGit(directory)
            let trailers = try await git.run(["log", "--format=%(trailers:key=Drover-Vote-Events,valueonly)"])
            let events = trailers.split(whereSeparator: { $0 == " " || $0 == "\n" })
            #expect(events.count == Set(events).count, "no vote event committed twice")
            // A git process killed mid-commit can leave unreachable (dangling) objects; those are
            // garbage, not damage, and `git gc` removes them.
            let fsck = try await git.run(["fsck", "--strict", "--no-dangling"])
            #expect(fsck.isEmpty, "\(fsck)")
            #expect(server.terminate() == 0)

            // The whole run's logs, at trace level, never show a secret.
            let logs = try String(contentsOfFile: log, encoding: .utf8)
            #expect(logs.contains("serving"), "the log was captured")
            #expect(logs.contains("hb.request.path=/slack/events"), "deliveries are logged like the router's requests")
            for secret in [FakeSlack.botToken, signingSecret] {
                #expect(!logs.contains(secret), "a secret appeared in the logs")
            }
        }
    }

    static func signedHeaders(_ body: String, type: String) -> [(String, String)] {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        return [
            ("Content-Type", type), ("X-Slack-Request-Timestamp", timestamp),
            ("X-Slack-Signature", SlackSignature(signingSecret: signingSecret).sign(body: Array(body.utf8), timestamp: timestamp)),
        ]
    }
}
