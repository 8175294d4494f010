import Crypto
import DroverCore
import DroverSlack
import DroverTestSupport
import Foundation
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

    /// The HMAC built on SHA-256 agrees with swift-crypto's own, for secrets shorter and longer
    /// than SHA-256's 64-byte block (hashed first) and bodies of any length.
    @Test func agreesWithSwiftCryptosHMAC() throws {
        var random = SplitMix(seed: 0x51_6E)
        for _ in 0..<500 {
            let secret = String((0..<Int.random(in: 0...150, using: &random)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &random))) })
            let body = (0..<Int.random(in: 0...3_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let timestamp = String(Int.random(in: 1_000_000_000...2_000_000_000, using: &random))
            let expected = HMAC<SHA256>.authenticationCode(for: Array("v0:\(timestamp):".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
            let signature = SlackSignature(signingSecret: secret)
            #expect(signature.sign(body: body, timestamp: timestamp) == "v0=" + Hex.encode(expected), "secret of \(secret.utf8.count) bytes")
            try signature.verify(
                body: body, timestamp: timestamp, signature: "v0=" + Hex.encode(expected).uppercased(),
                now: Date(timeIntervalSince1970: Double(timestamp)!)
            )
        }
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

@Suite struct FormBodyTests {
    @Test func decodesPlusAsSpaceAndPercentEscapes() throws {
        let form = try #require(FormBody.decode(Array("text=a+fluffy+ox%2C+eating%20%E2%9C%93&command=%2Fox&empty=".utf8)))
        #expect(form == ["text": "a fluffy ox, eating ✓", "command": "/ox", "empty": ""])
    }

    @Test func refusesBrokenEscapesAndInvalidUTF8() {
        #expect(FormBody.decode(Array("text=%zz".utf8)) == nil)
        #expect(FormBody.decode(Array("text=%E2%9C".utf8)) == nil)
        #expect(FormBody.decode(Array("text=%".utf8)) == nil)
    }

    @Test func encodingRoundTrips() throws {
        let fields = [("blocks", #"[{"type":"image"}]"#), ("text", "a b&c=d ✓")]
        let decoded = try #require(FormBody.decode(Array(FormBody.encode(fields).utf8)))
        #expect(decoded == Dictionary(uniqueKeysWithValues: fields))
    }
}
