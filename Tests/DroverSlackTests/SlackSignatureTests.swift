import DroverCore
import DroverSlack
import DroverTestSupport
import Foundation
import Hummingbird
import Testing

@Suite struct SlackSignatureTests {
    /// The worked example from Slack's "Verifying requests from Slack" documentation.
    static let documentedSecret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let documentedBody = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    static let documentedTimestamp = "1531420618"
    static let documentedSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    static let documentedTime = Date(timeIntervalSince1970: 1531420618)

    let signature = SlackSignature(signingSecret: documentedSecret)

    @Test func acceptsSlacksDocumentedExample() throws {
        try signature.verify(body: Array(Self.documentedBody.utf8), timestamp: Self.documentedTimestamp, signature: Self.documentedSignature, now: Self.documentedTime)
        #expect(signature.sign(body: Array(Self.documentedBody.utf8), timestamp: Self.documentedTimestamp) == Self.documentedSignature)
    }

    @Test func refusesAnAlteredBody() {
        var body = Array(Self.documentedBody.utf8)
        body[body.count - 1] ^= 1
        #expect(throws: SlackSignatureError.mismatch) {
            try signature.verify(body: body, timestamp: Self.documentedTimestamp, signature: Self.documentedSignature, now: Self.documentedTime)
        }
    }

    @Test func refusesAnotherSecret() {
        #expect(throws: SlackSignatureError.mismatch) {
            try SlackSignature(signingSecret: "not-the-secret").verify(
                body: Array(Self.documentedBody.utf8), timestamp: Self.documentedTimestamp, signature: Self.documentedSignature, now: Self.documentedTime
            )
        }
    }

    @Test(arguments: [-301.0, 301.0])
    func refusesTimestampsMoreThanFiveMinutesAway(_ offset: Double) {
        #expect(throws: SlackSignatureError.stale) {
            try signature.verify(body: Array(Self.documentedBody.utf8), timestamp: Self.documentedTimestamp, signature: Self.documentedSignature, now: Self.documentedTime.addingTimeInterval(offset))
        }
    }

    @Test func acceptsClockSkewWithinFiveMinutes() throws {
        try signature.verify(body: Array(Self.documentedBody.utf8), timestamp: Self.documentedTimestamp, signature: Self.documentedSignature, now: Self.documentedTime.addingTimeInterval(-299))
    }

    @Test func refusesMissingAndMalformedHeaders() {
        let body = Array(Self.documentedBody.utf8)
        #expect(throws: SlackSignatureError.missing) { try signature.verify(body: body, timestamp: nil, signature: Self.documentedSignature, now: Self.documentedTime) }
        #expect(throws: SlackSignatureError.missing) { try signature.verify(body: body, timestamp: Self.documentedTimestamp, signature: nil, now: Self.documentedTime) }
        #expect(throws: SlackSignatureError.malformed) { try signature.verify(body: body, timestamp: "soon", signature: Self.documentedSignature, now: Self.documentedTime) }
        #expect(throws: SlackSignatureError.malformed) { try signature.verify(body: body, timestamp: Self.documentedTimestamp, signature: "v1=abc", now: Self.documentedTime) }
        #expect(throws: SlackSignatureError.malformed) { try signature.verify(body: body, timestamp: Self.documentedTimestamp, signature: "v0=zz", now: Self.documentedTime) }
    }
}

@Suite struct SlashCommandFormTests {
    /// Slack's documented command body, read by Hummingbird's form decoder: `+` and `%xx`
    /// unescaped, an empty `text` kept empty.
    @Test func decodesSlacksDocumentedCommand() throws {
        let command = try URLEncodedFormDecoder().decode(SlashCommand.self, from: SlackSignatureTests.documentedBody)
        #expect(command.command == "/webhook-collect" && command.text == "" && command.teamID == "T1DC2JH3J")
        #expect(command.responseURL == "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN")
        let text = try URLEncodedFormDecoder().decode(SlashCommand.self, from: SlackSignatureTests.documentedBody.replacing("text=", with: "text=a+fluffy+ox%2C+eating%20%E2%9C%93"))
        #expect(text.text == "a fluffy ox, eating ✓")
    }

    @Test func aCommandWithoutItsFieldsIsRefused() {
        #expect(throws: (any Error).self) { try URLEncodedFormDecoder().decode(SlashCommand.self, from: "text=hello&team_id=T1") }
    }
}
