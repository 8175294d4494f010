import DroverCore
import DroverGenerators
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@Suite struct ListenerModeTests {
    static let otherBot = "U0MODALBOT"

    /// A `file_shared` event, modelled on Slack's documented example.
    static func fileShared(_ file: String, by user: String = otherBot, eventID: String) -> String {
        #"{"token":"x","team_id":"T0TEAM","api_app_id":"A0APP","type":"event_callback","event_id":"\#(eventID)","event_time":1700000000,"authorizations":[{"team_id":"T0TEAM","user_id":"U0BOT","is_bot":true}],"event":{"type":"file_shared","channel_id":"C0CHANNEL","file_id":"\#(file)","user_id":"\#(user)","file":{"id":"\#(file)"},"event_ts":"1700000000.000100"}}"#
    }

    static func png(_ prompt: String) -> [UInt8] {
        ProceduralGenerator.paint(prompt: prompt, seed: 1, width: 64, height: 64)
    }

    func listenerApp(_ directory: TemporaryDirectory, _ fake: FakeSlack) async throws -> some ApplicationProtocol {
        try await slackApp(directory, fake, ["DROVER_LISTEN_BOT_USER": Self.otherBot])
    }

    @Test func collectsTheOtherBotsImagesAndCountsReactionsOnThem() async throws {
        try await FakeSlack.run { fake in
            let png = Self.png("an ox from modal")
            fake.state.withLock {
                $0.files["F0IMG"] = .init(title: "an ox from modal", mimetype: "image/png", bytes: png, channel: "C0CHANNEL", ts: "1700000500.000100", infosBeforeShareKnown: 2, failingDownloads: 1)
                $0.files["F0PDF"] = .init(title: "slides", mimetype: "application/pdf", bytes: Array("%PDF".utf8), channel: "C0CHANNEL", ts: "1700000501.000100")
                $0.files["F0HUMAN"] = .init(title: "a cat", mimetype: "image/png", bytes: Self.png("a cat"), channel: "C0CHANNEL", ts: "1700000502.000100")
            }
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await listenerApp(directory, fake).test(.live) { client in
                for (file, user, event) in [("F0IMG", Self.otherBot, "Ev0F1"), ("F0IMG", Self.otherBot, "Ev0F1"), ("F0IMG", Self.otherBot, "Ev0F2"),
                                            ("F0PDF", Self.otherBot, "Ev0F3"), ("F0HUMAN", "U0HUMAN", "Ev0F4")] {
                    let response = try await client.slack("/slack/events", Self.fileShared(file, by: user, eventID: event), contentType: "application/json")
                    #expect(response.status == .ok)
                }
                try await eventually("the shared image's commit") { try await commitCount(directory) == 2 }
                try await eventually("the inbox to drain") { try await client.inboxDepth() == 0 }
                #expect(try await commitCount(directory) == 2, "one image: duplicates, the PDF and a person's file add nothing")
                let imageID = ImageID(pngBytes: png)
                let provenance = try await datasetGit(directory).committedProvenance().joined(separator: "\n")
                #expect(provenance.contains(#""backend":"external""#) && provenance.contains(#""prompt":"an ox from modal""#))
                #expect(provenance.contains(imageID.rawValue))
                let shared = try #require(fake.state.withLock { $0.files["F0IMG"] })
                #expect(shared.infoCalls >= 3, "asked again until the share's ts was known")
                #expect(shared.downloads >= 2, "the failed download was retried")
                #expect(fake.state.withLock { $0.files["F0HUMAN"]?.infoCalls } == 0, "files from anyone else are not even looked at")

                _ = try await client.reaction("reaction_added", "+1", by: "U0ALICE", on: "1700000500.000100")
                try await eventually("alice's vote on the shared image") { try await commitCount(directory) == 3 }
                #expect(try await committedTrainRows(directory).first?.hasPrefix("an ox from modal,\(datasetPath(imageID)),Approve,") == true)
            }
        }
    }
}
