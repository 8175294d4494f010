import DroverCore
@testable import DroverSlack
import Foundation
import Testing

@Suite struct ReactionVoteTests {
    @Test(arguments: ["+1", "thumbsup", "+1::skin-tone-2", "thumbsup::skin-tone-6"])
    func thumbsUpApproves(_ reaction: String) {
        #expect(ReactionVote.rating(for: reaction) == .approve)
    }

    @Test(arguments: ["-1", "thumbsdown", "-1::skin-tone-3"])
    func thumbsDownDisapproves(_ reaction: String) {
        #expect(ReactionVote.rating(for: reaction) == .disapprove)
    }

    @Test(arguments: ["heart", "+1x", "ok_hand", "", ":+1:", "skin-tone-2"])
    func otherEmojiAreNotVotes(_ reaction: String) {
        #expect(ReactionVote.rating(for: reaction) == nil)
    }
}

@Suite struct EventEnvelopeTests {
    /// Modelled on the `reaction_added` example in Slack's Events API documentation.
    static func envelope(type: String = "reaction_added", reaction: String = "+1", user: String = "U123ABC456", itemType: String = "message") -> String {
        """
        {"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","type":"event_callback",
         "event_id":"Ev123ABC456","event_time":1360782804,
         "authorizations":[{"enterprise_id":null,"team_id":"T123ABC456","user_id":"U0BOT","is_bot":true,"is_enterprise_install":false}],
         "event_context":"EC123","unknown_new_field":{"nested":[1,2]},
         "event":{"type":"\(type)","user":"\(user)","reaction":"\(reaction)","item_user":"U0BOT",
                  "item":{"type":"\(itemType)","channel":"C123ABC456","ts":"1360782400.498405"},"event_ts":"1360782804.083113"}}
        """
    }

    func change(_ json: String) throws -> ReactionChange? {
        ReactionChange(envelope: try JSONDecoder().decode(EventEnvelope.self, from: Data(json.utf8)))
    }

    @Test func aThumbsUpOnAMessageIsAVote() throws {
        let change = try #require(try change(Self.envelope()))
        #expect(change.added && change.rating == .approve)
        #expect([change.teamID, change.user, change.channel, change.messageTS] == ["T123ABC456", "U123ABC456", "C123ABC456", "1360782400.498405"])
        #expect(change.eventTime == 1_360_782_804_083_113)
    }

    @Test func eventTimesAreMicrosecondsAndMalformedOnesAreNone() throws {
        var change = try #require(try change(Self.envelope()))
        for (ts, micros) in [
            ("1360782804.5", Int64(1_360_782_804_500_000)), ("1360782804", 1_360_782_804_000_000), ("0.000001", 1),
            ("1360782804.083113", 1_360_782_804_083_113), ("1099511627775.999999", (1 << 40) * 1_000_000 - 1),
        ] {
            change.eventTS = ts
            #expect(change.eventTime == micros, "\(ts)")
        }
        for ts in [
            "", ".", "1.", ".5", "a.1", "1.1234567", "-1.5", "+1.5", "1.+5", " 1.5", "1.5 ", "1.-5", "1.2.3", "99999999999999.0",
            "1099511627776", "1.٣", "٣.1",
        ] {
            change.eventTS = ts
            #expect(change.eventTime == nil, "\(ts)")
        }
    }

    @Test func inboxPayloadsRoundTripAndEarlierVersionsPayloadsStillRead() throws {
        let change = try #require(try change(Self.envelope()))
        let decoder = JSONDecoder()
        #expect(try decoder.decode(ReactionChange.self, from: JSONEncoder().encode(change)) == change)
        var withoutTime = change
        withoutTime.eventTS = nil
        #expect(try decoder.decode(ReactionChange.self, from: JSONEncoder().encode(withoutTime)) == withoutTime)
        // As earlier versions wrote them.
        let earlier = #"{"added":false,"teamID":"T1","user":"U1","rating":"Disapprove","channel":"C1","messageTS":"1.2","eventTS":"3.4"}"#
        let read = try decoder.decode(ReactionChange.self, from: Data(earlier.utf8))
        #expect(!read.added && read.rating == .disapprove && read.messageTS == "1.2" && read.eventTS == "3.4")
        #expect(throws: DecodingError.self) { try decoder.decode(ReactionChange.self, from: Data(earlier.replacing("Disapprove", with: "meh").utf8)) }
    }

    @Test func envelopesThatAreNotEnvelopesAreRefused() {
        func decode(_ json: String) throws -> EventEnvelope { try JSONDecoder().decode(EventEnvelope.self, from: Data(json.utf8)) }
        #expect(throws: DecodingError.self) { try decode(#"{"event_id":"Ev1"}"#) }
        #expect(throws: DecodingError.self) {
            try decode(#"{"type":"event_callback","event":{"type":"reaction_added","item":{"type":"message","channel":5}}}"#)
        }
        #expect(throws: DecodingError.self) { try decode(#"{"type":"x","authorizations":[1]}"#) }
        #expect(throws: DecodingError.self) { try decode("[]") }
        #expect(throws: DecodingError.self) { try decode(#"{"type":"x""#) }
    }

    @Test func aRemovedReactionIsARemoval() throws {
        #expect(try change(Self.envelope(type: "reaction_removed", reaction: "-1::skin-tone-4"))?.added == false)
        #expect(try change(Self.envelope(type: "reaction_removed", reaction: "-1::skin-tone-4"))?.rating == .disapprove)
    }

    @Test func theBotsOwnOtherEmojiAndNonMessagesAreNotVotes() throws {
        #expect(try change(Self.envelope(user: "U0BOT")) == nil)
        #expect(try change(Self.envelope(reaction: "tada")) == nil)
        #expect(try change(Self.envelope(itemType: "file")) == nil)
        #expect(try change(Self.envelope(type: "message")) == nil)
    }
}

@Suite struct OxCommandTests {
    @Test func aPlainPromptMakesOneImage() throws {
        guard case .generate(let request) = try OxCommand.parse("a fluffy ox eating almonds") else { Issue.record("not a generation"); return }
        #expect(request.prompt == "a fluffy ox eating almonds" && request.count == 1 && request.seed == nil)
    }

    @Test func optionsComeBeforeThePrompt() throws {
        guard case .generate(let request) = try OxCommand.parse(#"--n 4 --seed 42 --negative "blurry, dark" an ox --n in the prompt"#) else {
            Issue.record("not a generation")
            return
        }
        #expect(request.count == 4 && request.seed == 42 && request.negativePrompt == "blurry, dark")
        #expect(request.prompt == "an ox --n in the prompt")
    }

    @Test func helpAndNothingShowUsage() throws {
        #expect(try OxCommand.parse("help") == .help)
        #expect(try OxCommand.parse("   ") == .help)
        #expect(try OxCommand.parse(" Stats ") == .stats)
        #expect(try OxCommand.parse("stats of an ox") != .stats, "a prompt that starts with the word is a prompt")
    }

    @Test func mistakesSayWhat() {
        #expect(throws: OxCommandError("--n takes a number from 1 to 8")) { try OxCommand.parse("--n 20 an ox") }
        #expect(throws: OxCommandError("--seed takes a whole number from 0 to 4294967295")) { try OxCommand.parse("--seed x an ox") }
        #expect(throws: OxCommandError("unknown option --size")) { try OxCommand.parse("--size 3 an ox") }
        #expect(throws: OxCommandError("the prompt is empty")) { try OxCommand.parse("--n 2") }
    }
}

@Suite struct BlockActionsTests {
    /// Modelled on the `block_actions` payload in Slack's interactivity documentation.
    static let payload = """
    {"type":"block_actions","user":{"id":"U0CA5","username":"Amy McGee","name":"Amy McGee","team_id":"T3MDE"},
     "api_app_id":"A0CA5","token":"Shh_its_a_seekrit","container":{"type":"message","message_ts":"1548261231.000200","channel_id":"C0CA5","is_ephemeral":false},
     "trigger_id":"12466734323.1395872398","team":{"id":"T0CAG","domain":"acme-creamery"},"channel":{"id":"C0CA5","name":"general"},
     "message":{"ts":"1548261231.000200","blocks":[]},"response_url":"https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
     "actions":[{"action_id":"drover_vote_down","block_id":"vote-0123456789abcdef-0-0","text":{"type":"plain_text","text":"👎 0","emoji":true},
                 "value":"0123456789abcdef","type":"button","action_ts":"1548426417.840180"},
                {"action_id":"someone_elses_button","block_id":"x","value":"0123456789abcdef","type":"button","action_ts":"1548426417.840181"}]}
    """

    @Test func findsDroversVoteButtonsOnly() throws {
        let payload = try JSONDecoder().decode(BlockActionsPayload.self, from: Data(Self.payload.utf8))
        let votes = ButtonVote.votes(in: payload)
        #expect(votes == [ButtonVote(teamID: "T0CAG", user: "U0CA5", imageID: try #require(ImageID(validating: "0123456789abcdef")), rating: .disapprove, actionTS: "1548426417.840180")])
    }
}

@Suite struct ImageMessageTests {
    @Test func blocksShowTheFileAndButtonsWithTallies() throws {
        let id = try #require(ImageID(validating: "0123456789abcdef"))
        let message = ImageMessage(imageID: id, fileID: "F0123", prompt: "an ox", seed: 42, approvals: 3, disapprovals: 1)
        let blocks = try #require(try JSONSerialization.jsonObject(with: Data(message.blocksJSON().utf8)) as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["image", "actions", "context"])
        #expect((blocks[0]["slack_file"] as? [String: String])?["id"] == "F0123")
        #expect(blocks[0]["alt_text"] as? String == "an ox")
        let buttons = try #require(blocks[1]["elements"] as? [[String: Any]])
        #expect(buttons.map { $0["action_id"] as? String } == [VoteButton.approveActionID, VoteButton.disapproveActionID])
        #expect(buttons.map { ($0["text"] as? [String: Any])?["text"] as? String } == ["👍 3", "👎 1"])
        #expect(buttons.allSatisfy { $0["value"] as? String == "0123456789abcdef" })
    }
}

@Suite struct SlackManifestTests {
    @Test func namesTheRoutesEventsAndScopes() throws {
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(SlackManifest.json(.init(baseURL: "https://drover.example.com/", command: "/ox")).utf8)) as? [String: Any])
        let features = try #require(manifest["features"] as? [String: Any])
        let command = try #require((features["slash_commands"] as? [[String: Any]])?.first)
        #expect(command["command"] as? String == "/ox" && command["url"] as? String == "https://drover.example.com/slack/commands")
        let settings = try #require(manifest["settings"] as? [String: Any])
        let events = try #require(settings["event_subscriptions"] as? [String: Any])
        #expect(events["request_url"] as? String == "https://drover.example.com/slack/events")
        #expect(events["bot_events"] as? [String] == ["reaction_added", "reaction_removed"])
        #expect((settings["interactivity"] as? [String: Any])?["request_url"] as? String == "https://drover.example.com/slack/interactivity")
        let scopes = ((manifest["oauth_config"] as? [String: Any])?["scopes"] as? [String: Any])?["bot"] as? [String]
        #expect(Set(scopes ?? []) == ["commands", "chat:write", "files:write", "reactions:read"])
        #expect(settings["socket_mode_enabled"] as? Bool == false)
    }

    @Test func socketModeNeedsNoURLAndListenerModeReadsFiles() throws {
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(SlackManifest.json(.init(baseURL: nil, command: "/ox", listener: true)).utf8)) as? [String: Any])
        let settings = try #require(manifest["settings"] as? [String: Any])
        #expect(settings["socket_mode_enabled"] as? Bool == true)
        let events = try #require(settings["event_subscriptions"] as? [String: Any])
        #expect(events["request_url"] == nil)
        #expect(events["bot_events"] as? [String] == ["reaction_added", "reaction_removed", "file_shared"])
        let scopes = ((manifest["oauth_config"] as? [String: Any])?["scopes"] as? [String: Any])?["bot"] as? [String]
        #expect(scopes?.contains("files:read") == true)
    }
}
