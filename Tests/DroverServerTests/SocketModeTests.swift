import DroverCore
import DroverGit
import DroverServer
import DroverSlack
import DroverTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// Drover in Socket Mode against `fake`: no signing secret, no public URL.
func socketModeApp(_ directory: TemporaryDirectory, _ fake: FakeSlack) async throws -> some ApplicationProtocol {
    try await buildApplication(try testConfiguration(directory, [
        "SLACK_BOT_TOKEN": FakeSlack.botToken, "SLACK_APP_TOKEN": FakeSlack.appToken, "SLACK_API_URL": fake.apiURL,
        "SLACK_SOCKET_PING_MS": "300",
    ]), logger: testLogger)
}

/// Socket Mode payloads: what HTTP mode would have POSTed, as JSON.
enum SocketPayload {
    static func command(_ text: String, fake: FakeSlack, trigger: String = UUID().uuidString) -> String {
        #"{"token":"x","team_id":"T0TEAM","team_domain":"oxen","channel_id":"C0CHANNEL","channel_name":"images","user_id":"U0ASKER","user_name":"asker","command":"/ox","text":"\#(text)","api_app_id":"A0APP","is_enterprise_install":"false","response_url":"\#(fake.responseURL)","trigger_id":"\#(trigger)"}"#
    }

    static func reaction(_ reaction: String, by user: String, on ts: String, eventID: String) -> String {
        #"{"token":"x","team_id":"T0TEAM","api_app_id":"A0APP","type":"event_callback","event_id":"\#(eventID)","event_time":1700000000,"authorizations":[{"team_id":"T0TEAM","user_id":"U0BOT","is_bot":true}],"event":{"type":"reaction_added","user":"\#(user)","reaction":"\#(reaction)","item_user":"U0BOT","item":{"type":"message","channel":"C0CHANNEL","ts":"\#(ts)"},"event_ts":"1700000001.000100"}}"#
    }

    static func click(_ actionID: String, image: String, by user: String, actionTS: String) -> String {
        #"{"type":"block_actions","user":{"id":"\#(user)","team_id":"T0TEAM"},"team":{"id":"T0TEAM"},"container":{"type":"message","message_ts":"1","channel_id":"C0CHANNEL"},"channel":{"id":"C0CHANNEL"},"actions":[{"action_id":"\#(actionID)","block_id":"b","value":"\#(image)","type":"button","action_ts":"\#(actionTS)"}]}"#
    }
}

@Suite struct SocketModeTests {
    /// All three envelope kinds go through the same inbox and handlers as HTTP; each is
    /// acknowledged, a slash command with its ephemeral answer as the response payload.
    @Test func commandsReactionsAndClicksArriveOverTheSocket() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await socketModeApp(directory, fake).test(.live) { _ in
                let command = fake.enqueue("slash_commands", payload: SocketPayload.command("--seed 5 an ox", fake: fake))
                try await eventually("the command's acknowledgement") { !fake.acks(command).isEmpty }
                let ack = try #require(try JSONSerialization.jsonObject(with: Data(fake.acks(command)[0].utf8)) as? [String: Any])
                let response = try #require(ack["payload"] as? [String: Any])
                #expect(response["response_type"] as? String == "ephemeral")
                #expect((response["text"] as? String)?.hasPrefix("Generating an image") == true)

                try await eventually("the image message") { fake.posted.count == 1 }
                try await eventually("the image's commit") { try await commitCount(directory) == 2 }
                let image = try #require(fake.state.withLock { $0.uploads.values.first }.map { ImageID(pngBytes: $0).rawValue })

                let reaction = fake.enqueue("events_api", payload: SocketPayload.reaction("+1", by: "U0ALICE", on: fake.posted[0], eventID: "Ev0S1"))
                try await eventually("alice's vote") { try await commitCount(directory) == 3 }
                #expect(fake.acks(reaction) == [#"{"envelope_id":"\#(reaction)"}"#])

                _ = fake.enqueue("interactive", payload: SocketPayload.click(VoteButton.disapproveActionID, image: image, by: "U0ALICE", actionTS: "9.1"))
                try await eventually("alice's change by button") { try await commitCount(directory) == 4 }
                #expect(try await committedTrainRows(directory).count == 1)
                #expect(try await committedTrainRows(directory)[0].contains(",Disapprove,"))
            }
        }
    }

    /// The connection is refreshed, dropped mid-stream and left half-open; Drover reconnects
    /// each time with a fresh apps.connections.open, Slack redelivers what was not acknowledged,
    /// and every vote comes out exactly once.
    @Test func reconnectsAndRedeliveriesCountOnce() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await socketModeApp(directory, fake).test(.live) { _ in
                _ = fake.enqueue("slash_commands", payload: SocketPayload.command("--seed 6 an ox", fake: fake))
                try await eventually("the image message") { fake.posted.count == 1 }
                let ts = fake.posted[0]

                fake.state.withLock { $0.connectionPlans = [.dropAfterFirstEnvelope, .silent, .normal] }
                fake.requestRefresh()
                let voters = ["U0A", "U0B", "U0C", "U0D"]
                let envelopes = voters.enumerated().map { index, user in
                    fake.enqueue("events_api", payload: SocketPayload.reaction(index.isMultiple(of: 2) ? "+1" : "-1", by: user, on: ts, eventID: "Ev0R\(index)"))
                }
                // The same delivery again, as Slack sends an event it thinks failed.
                let duplicate = fake.enqueue("events_api", payload: SocketPayload.reaction("+1", by: "U0A", on: ts, eventID: "Ev0R0"))

                try await eventually("every envelope acknowledged", timeout: .seconds(30)) {
                    (envelopes + [duplicate]).allSatisfy { !fake.acks($0).isEmpty }
                }
                try await eventually("four votes in train.csv") { try await committedTrainRows(directory).count == voters.count }
                #expect(fake.state.withLock { $0.connectionsOpened } >= 4, "refresh, drop and silence each led to a fresh apps.connections.open")

                let trailers = try await datasetGit(directory).run(["log", "--format=%(trailers:key=Drover-Vote-Events,valueonly)"])
                let events = trailers.split(whereSeparator: { $0 == " " || $0 == "\n" })
                #expect(events.count == voters.count && Set(events).count == voters.count, "each vote committed exactly once")
            }
        }
    }
}
