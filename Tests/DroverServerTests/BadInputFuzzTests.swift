import DroverCore
import DroverServer
import DroverSlack
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Generated hostile input: thousands of requests across every route, each a kind of mistake or
/// attack Drover must refuse cleanly. None may crash the server, write a row, or make a commit.
@Suite struct BadInputFuzzTests {
    /// One generated request and the statuses it may get.
    struct Attack {
        var name: String
        var method: HTTPRequest.Method = .post
        var uri: String
        var headers: HTTPFields = [:]
        var body: [UInt8] = []
        var allowed: Set<Int>
    }

    /// A small seeded generator, so that a failure names a reproducible case.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
        mutating func text(_ count: Int) -> String { String((0..<count).map { _ in pick(Array("abcXYZ09 ,=&%+\"{}[]:\\/.\u{e9}\u{1F402}")) }) }
    }

    static let validEvent = #"{"token":"x","team_id":"T0TEAM","api_app_id":"A0APP","type":"event_callback","event_id":"Ev0VALID","event_time":1700000000,"event":{"type":"reaction_added","user":"U1","reaction":"+1","item":{"type":"message","channel":"C1","ts":"1.2"}}}"#
    static let validCommand = "team_id=T0TEAM&channel_id=C1&user_id=U1&command=%2Fox&text=an+ox&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr&trigger_id=1.2.3"
    static let traversals = ["../../etc/passwd", "..%2F..%2Fdrover.sqlite", "%2e%2e%2f%2e%2e%2fx", "....//....//x", "/etc/passwd", "images/../../x", "0123456789abcde\u{0}", "0123456789ABCDEF", "C:\\windows"]

    static func signed(_ body: [UInt8], at time: Date = Date(), secret: String = signingSecret) -> HTTPFields {
        let timestamp = String(Int(time.timeIntervalSince1970))
        var headers: HTTPFields = [:]
        headers[HTTPField.Name("X-Slack-Request-Timestamp")!] = timestamp
        headers[HTTPField.Name("X-Slack-Signature")!] = SlackSignature(signingSecret: secret).sign(body: body, timestamp: timestamp)
        return headers
    }

    /// The i-th attack of the run.
    static func attack(_ random: inout Random) -> Attack {
        let slackRoutes = ["/slack/events", "/slack/commands", "/slack/interactivity"]
        let json: HTTPFields = [.contentType: "application/json"]
        switch random.below(14) {
        case 0:
            let body = Array(validEvent.utf8)
            var headers = signed(body, secret: random.text(12))
            headers[.contentType] = "application/json"
            return Attack(name: "forged signature", uri: random.pick(slackRoutes), headers: headers, body: body, allowed: [401])
        case 1:
            var headers: HTTPFields = [.contentType: "application/json"]
            if random.below(2) == 0 { headers[HTTPField.Name("X-Slack-Signature")!] = "v0=" + Hex.random(&random) }
            return Attack(name: "missing signature or timestamp", uri: random.pick(slackRoutes), headers: headers, body: Array(validEvent.utf8), allowed: [401])
        case 2:
            let body = Array(validCommand.utf8)
            let skew = Double(301 + random.below(1_000_000)) * (random.below(2) == 0 ? -1 : 1)
            return Attack(name: "stale or future timestamp", uri: random.pick(slackRoutes), headers: signed(body, at: Date().addingTimeInterval(skew)), body: body, allowed: [401])
        case 3:
            var body = Array(validEvent.utf8)
            let headers = signed(body)
            body[random.below(body.count)] ^= UInt8(1 + random.below(255))
            return Attack(name: "replayed body with altered bytes", uri: "/slack/events", headers: headers, body: body, allowed: [401])
        case 4:
            let body = Array(validEvent.utf8.prefix(random.below(validEvent.utf8.count - 1)))
            return Attack(name: "truncated event", uri: "/slack/events", headers: signed(body), body: body, allowed: [400])
        case 5:
            let body = Array(validCommand.utf8.prefix(random.below(validCommand.utf8.count - 20)))
            return Attack(name: "truncated command", uri: "/slack/commands", headers: signed(body), body: body, allowed: [200, 400])
        case 6:
            let body = random.bytes(65 * 1024 + random.below(200_000))
            let uri = random.pick(["/api/generations", "/api/votes"] + slackRoutes)
            return Attack(name: "oversized body", uri: uri, headers: uri.hasPrefix("/slack") ? signed(body) : json, body: body, allowed: [413])
        case 7:
            let body = Array(#"{"prompt": "an "#.utf8) + [0xC3, 0x28, 0xFF, 0xFE] + Array(#"ox"}"#.utf8)
            let uri = random.pick(["/api/generations", "/slack/events", "/slack/commands"])
            return Attack(name: "invalid UTF-8", uri: uri, headers: uri.hasPrefix("/slack") ? signed(body) : json, body: body, allowed: [400])
        case 8:
            let body = Array(random.text(random.below(300)).utf8)
            return Attack(name: "malformed JSON", uri: random.pick(["/api/generations", "/api/votes"]), headers: json, body: body, allowed: [400])
        case 9:
            let body = Array("prompt=an+ox&n=1".utf8)
            return Attack(name: "form body on a JSON route", uri: "/api/generations", headers: [.contentType: "application/x-www-form-urlencoded"], body: body, allowed: [400])
        case 10:
            let body = Array(#"{"prompt": "\#(String(repeating: "ox ", count: 700 + random.below(20_000)))"}"#.utf8)
            return Attack(name: "huge field", uri: "/api/generations", headers: json, body: body, allowed: [400, 413])
        case 11:
            let type = random.pick(["app_mention", "message", "team_join", "channel_created", "made_up_event"])
            let reaction = random.pick(["tada", "heart", "eyes"])
            let body = Array(#"{"type":"event_callback","team_id":"T0TEAM","event_id":"Ev\#(random.below(1_000_000))","event":{"type":"\#(type)","user":"U1","reaction":"\#(reaction)","item":{"type":"message","channel":"C1","ts":"1.2"}}}"#.utf8)
            var headers = signed(body)
            headers[.contentType] = "application/json"
            return Attack(name: "valid but irrelevant event", uri: "/slack/events", headers: headers, body: body, allowed: [200])
        case 12:
            let name = random.pick(traversals)
            if random.below(2) == 0 {
                let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
                return Attack(name: "path traversal in an image file", method: .get, uri: "/images/\(encoded)", allowed: [400, 404])
            }
            let body = Array(#"{"image_id": "\#(name.replacingOccurrences(of: "\u{0}", with: "\\u0000").replacingOccurrences(of: "\\", with: "\\\\"))", "rater": "a", "rating": "up"}"#.utf8)
            return Attack(name: "path traversal in an image id", uri: "/api/votes", headers: json, body: body, allowed: [400])
        default:
            let payload = random.pick([#"{"type":"block_actions","user":{"id":"U1"},"team":{"id":"T1"},"actions":[{"action_id":"drover_vote_up","value":"../../x","action_ts":"1"}]}"#, "not json", #"{"type":"view_submission"}"#])
            let body = Array("payload=\(payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")".utf8)
            return Attack(name: "bad interaction payload", uri: "/slack/interactivity", headers: signed(body), body: body, allowed: [200, 400])
        }
    }

    @Test func tenThousandBadRequestsChangeNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory, [
            "SLACK_BOT_TOKEN": "xoxb-unused", "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": "http://127.0.0.1:9/api/",
        ]), logger: testLogger)
        // AsyncHTTPClient opens a new connection when the server closes one (after an answer it
        // sent before reading a body), as any client that honours `Connection: close` does.
        try await app.test(.ahc(.http)) { client in
            var random = Random(state: 20261129)
            var counts: [String: Int] = [:]
            for index in 0..<10_000 {
                let attack = Self.attack(&random)
                let response = try await client.execute(uri: attack.uri, method: attack.method, headers: attack.headers, body: ByteBuffer(bytes: attack.body))
                counts[attack.name, default: 0] += 1
                guard attack.allowed.contains(response.status.code) else {
                    Issue.record("attack \(index) (\(attack.name)) on \(attack.uri) got \(response.status.code), expected \(attack.allowed.sorted())")
                    return
                }
                if response.status.code >= 400 {
                    #expect((try? response.json()["error"]) != nil, "attack \(index) (\(attack.name)): a 4xx says why")
                }
            }
            #expect(counts.count == 15, "every kind of attack was generated: \(counts)")
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(try await client.inboxDepth() == 0)
            let images = try await client.execute(uri: "/api/images", method: .get)
            #expect((try images.json()["images"] as? [Any])?.isEmpty == true)
        }
        #expect(try await commitCount(directory) == 1)
    }
}

extension Hex {
    /// 64 random hex digits.
    static func random(_ random: inout BadInputFuzzTests.Random) -> String {
        encode(random.bytes(32))
    }
}
