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

    @Test func anOversizedBodyIsRefusedAndTheConnectionGoesOn() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await slackApp(directory, FakeSlack()).test(.live) { client in
            let huge = String(repeating: "x", count: 70_000)
            let requests = Self.request(body: huge) + Self.delivery(eventID: "EvAfterHuge")
            let responses = try await RawHTTPConnection.exchange(port: client.port!, send: Array(requests.utf8), responses: 2)
            #expect(responses.map(\.status) == [413, 200])
            #expect(String(decoding: responses[0].body, as: UTF8.self).contains("larger than 64 KiB"))
        }
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
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try exchangeBlocking(port: port, send: bytes, responses: responses, thenCloseWriting: thenCloseWriting) })
            }.start()
        }
    }

    private static func exchangeBlocking(port: Int, send bytes: [UInt8], responses count: Int, thenCloseWriting: Bool) throws -> [Response] {
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
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { break }  // the server may close early; what it answered is still read
            sent += written
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
