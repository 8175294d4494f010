import DroverSlack
import DroverTestSupport
import Foundation
import HummingbirdTesting
import Testing

@testable import DroverServer

/// Slack deliveries and other requests on one connection, through the router: pipelined
/// requests answered in order, keep-alive kept, and refused bodies answered before the close.
@Suite struct HTTPConnectionTests {
    static func delivery(eventID: String, secret: String = signingSecret) -> String {
        let body = #"{"type":"event_callback","team_id":"T0TEAM","event_id":"\#(eventID)","event":{"type":"reaction_added","user":"U1","reaction":"+1","item":{"type":"message","channel":"C1","ts":"1.2"},"event_ts":"1700000000.000001"}}"#
        return request(body: body, secret: secret)
    }

    static func request(body: String, secret: String = signingSecret, extraHeaders: String = "") -> String {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = SlackSignature(signingSecret: secret).sign(body: Array(body.utf8), timestamp: timestamp)
        return "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slack-Request-Timestamp: \(timestamp)\r\n"
            + "X-Slack-Signature: \(signature)\r\n\(extraHeaders)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let requests = Self.delivery(eventID: "EvPipe1") + "GET /no-such-route HTTP/1.1\r\nHost: x\r\n\r\n"
                + Self.delivery(eventID: "EvPipe2", secret: "forged") + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                + Self.delivery(eventID: "EvPipe3")
            let responses = try await RawHTTPConnection.exchange(port: client.port!, send: Array(requests.utf8), responses: 5)
            #expect(responses.map(\.status) == [200, 404, 401, 200, 200])
            // Dated (RFC 9110: every 2xx and 4xx).
            #expect(responses.allSatisfy { $0.headers["date"] != nil })
            #expect(responses[0].body.isEmpty && !responses[3].body.isEmpty && responses[4].body.isEmpty)
            #expect(String(decoding: responses[2].body, as: UTF8.self).contains("does not match"))
        }
    }

    /// A client that writes its whole body before reading (as Python's urllib does) gets the 413
    /// on every route, and then the connection closes: what was pipelined after it is not read.
    @Test(arguments: ["/api/votes", "/api/generations", "/slack/events", "/slack/commands", "/slack/interactivity", "/no-such-route"])
    func anOversizedBodyIsAnsweredThenTheConnectionCloses(_ route: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let huge = String(repeating: "x", count: 5_000_000)
            let request = "POST \(route) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(huge.utf8.count)\r\n\r\n\(huge)"
            let started = ContinuousClock.now
            let responses = try await RawHTTPConnection.exchange(
                port: client.port!, send: Array((request + Self.delivery(eventID: "EvAfterHuge")).utf8), responses: 2
            )
            // Answered well before the 10 s read deadline a client would otherwise wait out.
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(responses.map(\.status) == [route == "/no-such-route" ? 404 : 413], "answered, then closed")
            if route != "/no-such-route" {
                #expect(String(decoding: responses[0].body, as: UTF8.self).contains("larger than 64 KiB"))
            }
        }
        #expect(try ledgerCount("SELECT count(*) FROM inboxItem", directory) == 0)
    }

    /// Slowloris: connections that send part of a request head and then nothing are closed once
    /// the idle timeout passes, while a normal client is served meanwhile.
    @Test func connectionsHoldingPartialHeadsAreClosed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack(), ["DROVER_HTTP_IDLE_TIMEOUT_S": "1"]).test(.live) { client in
            let started = ContinuousClock.now
            let partial = Array("POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
            try await withThrowingTaskGroup(of: [RawHTTPConnection.Response].self) { group in
                for _ in 0..<40 {
                    group.addTask { try await RawHTTPConnection.exchange(port: client.port!, send: partial, responses: 1) }
                }
                let served = try await RawHTTPConnection.exchange(port: client.port!, send: Array(Self.delivery(eventID: "EvServed").utf8), responses: 1)
                #expect(served.map(\.status) == [200])
                for try await answers in group {
                    #expect(answers.isEmpty, "closed without an answer")
                }
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(5), "closed at the idle timeout: \(elapsed)")
        }
    }

    /// A client that sends its request slowly, within the read deadline, is served; one that
    /// trickles its body past the deadline is cut off.
    @Test func slowClientsWithinTheDeadlineAreServedAndTricklersAreCut() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let settings = ["DROVER_HTTP_IDLE_TIMEOUT_S": "1", "DROVER_HTTP_READ_TIMEOUT_S": "2"]
        try await slackApp(directory, FakeSlack(), settings).test(.live) { client in
            let delivery = Array(Self.delivery(eventID: "EvSlow").utf8)
            let pieces = stride(from: 0, to: delivery.count, by: delivery.count / 5 + 1).map { Array(delivery[$0..<min($0 + delivery.count / 5 + 1, delivery.count)]) }
            let slow = try await RawHTTPConnection.exchange(port: client.port!, sendInPieces: pieces, pausing: 0.25, responses: 1)
            #expect(slow.map(\.status) == [200])

            let head = Array("POST /api/votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n".utf8)
            let started = ContinuousClock.now
            let trickled = try await RawHTTPConnection.exchange(
                port: client.port!, sendInPieces: [head] + Array(repeating: Array("x".utf8), count: 20), pausing: 0.25, responses: 1
            )
            #expect(trickled.isEmpty, "cut off without an answer")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        #expect(try ledgerCount("SELECT count(*) FROM inboxItem WHERE idempotencyKey = 'slack-event:EvSlow'", directory) == 1)
    }

    @Test func aClientThatClosesItsSideStillGetsEveryAnswer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let requests = Self.delivery(eventID: "EvHalf1") + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + Self.delivery(eventID: "EvHalf2")
            let responses = try await RawHTTPConnection.exchange(port: client.port!, send: Array(requests.utf8), responses: 3, thenCloseWriting: true)
            #expect(responses.map(\.status) == [200, 200, 200])
            // A lone delivery, its end of input read while it waits for the inbox.
            let alone = try await RawHTTPConnection.exchange(
                port: client.port!, send: Array(Self.delivery(eventID: "EvHalf3").utf8), responses: 1, thenCloseWriting: true
            )
            #expect(alone.map(\.status) == [200])
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let body = #"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
            let requests = Self.request(body: body, extraHeaders: "Connection: close\r\n") + Self.delivery(eventID: "EvNeverRead")
            let responses = try await RawHTTPConnection.exchange(port: client.port!, send: Array(requests.utf8), responses: 2)
            #expect(responses.count == 1, "the connection closes after the first answer")
            #expect(responses.first?.status == 200)
            #expect(responses.first.map { String(decoding: $0.body, as: UTF8.self) } == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        }
    }

    /// A proxy may send the target in absolute form (RFC 9112 §3.2.2): it is still a delivery.
    @Test func absoluteFormTargetsAreDeliveries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let request = Self.delivery(eventID: "EvAbsolute").replacingOccurrences(of: "POST /slack/events", with: "POST http://x/slack/events?retry=1")
            let responses = try await RawHTTPConnection.exchange(port: client.port!, send: Array(request.utf8), responses: 1)
            #expect(responses.map(\.status) == [200])
            #expect(try ledgerCount("SELECT count(*) FROM inboxItem WHERE idempotencyKey LIKE '%EvAbsolute'", directory) == 1)
        }
    }
}

/// A blocking HTTP/1.1 client on a plain socket, for what HTTP client libraries do not do: send
/// pipelined requests in one write and read the answers in order.
enum RawHTTPConnection {
    struct Response {
        var version: String
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    /// Sends `bytes` (then shuts down the sending side, if asked), then reads up to `responses`
    /// answers, or fewer if the server closes the connection. Runs on a thread of its own; every
    /// read times out after 10 s.
    static func exchange(port: Int, send bytes: [UInt8], responses: Int, thenCloseWriting: Bool = false) async throws -> [Response] {
        try await exchange(port: port, sendInPieces: [bytes], pausing: 0, responses: responses, thenCloseWriting: thenCloseWriting)
    }

    /// ``exchange(port:send:responses:thenCloseWriting:)`` for a slow client: the pieces are sent
    /// one at a time, `pause` seconds apart.
    static func exchange(
        port: Int, sendInPieces pieces: [[UInt8]], pausing pause: Double, responses: Int, thenCloseWriting: Bool = false
    ) async throws -> [Response] {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try exchangeBlocking(port: port, pieces: pieces, pause: pause, responses: responses, thenCloseWriting: thenCloseWriting)
                })
            }.start()
        }
    }

    private static func exchangeBlocking(port: Int, pieces: [[UInt8]], pause: Double, responses count: Int, thenCloseWriting: Bool) throws -> [Response] {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw TimedOut(description: "cannot connect to port \(port)") }
        sending: for (index, bytes) in pieces.enumerated() {
            if index > 0 { Thread.sleep(forTimeInterval: pause) }
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else { break sending }  // the server may close early; what it answered is still read
                sent += written
            }
        }
        if thenCloseWriting { shutdown(descriptor, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var answers: [Response] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while answers.count < count {
            if let (response, length) = parse(received) {
                answers.append(response)
                received.removeFirst(length)
                continue
            }
            let read = recv(descriptor, &chunk, chunk.count, 0)
            if read == 0 { break }
            guard read > 0 else { throw TimedOut(description: "no complete answer within 10 s (\(answers.count) of \(count) read)") }
            received += chunk[0..<read]
        }
        return answers
    }

    /// One complete response at the start of `bytes` (Content-Length bodies), and its length.
    private static func parse(_ bytes: [UInt8]) -> (Response, Int)? {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1] }
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.count >= end + 4 + length else { return nil }
        return (Response(version: String(statusLine[0]), status: status, headers: headers, body: Array(bytes[(end + 4)..<(end + 4 + length)])), end + 4 + length)
    }
}
