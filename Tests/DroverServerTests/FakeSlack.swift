import DroverSlack
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An in-process stand-in for Slack's Web API on 127.0.0.1, faithful to the documented
/// methods Drover calls (files v2 upload, chat.postMessage, chat.update, response_url), with
/// the failures Slack really produces: HTTP 429 with Retry-After, `invalid_blocks` for a file
/// posted too soon after its upload, `not_in_channel`, and `ok: false` for a bad token.
final class FakeSlack: Sendable {
    static let botToken = "xoxb-fake-bot-token"

    /// One request Drover made.
    struct Call: Sendable {
        var method: String
        var fields: [String: String]
    }

    struct State {
        var calls: [Call] = []
        var uploads: [String: [UInt8]] = [:]
        var completedAt: [String: ContinuousClock.Instant] = [:]
        var responses: [String] = []
        /// The ts of every message posted successfully, in order.
        var posted: [String] = []
        var nextID = 1
        /// Answer this many calls of a method with 429 first.
        var rateLimits: [String: Int] = [:]
        /// A file can be shown in blocks only this long after its upload completed.
        var fileReadyAfter: Duration = .zero
        var channelsWithoutBot: Set<String> = []
    }

    let state = Mutex(State())
    private let port = Mutex(0)

    /// The Web API base Drover is pointed at (`SLACK_API_URL`).
    var apiURL: String { "http://127.0.0.1:\(port.withLock { $0 })/api/" }
    /// A `response_url` for a slash command.
    var responseURL: String { "http://127.0.0.1:\(port.withLock { $0 })/respond/1" }

    func calls(_ method: String) -> [Call] { state.withLock { $0.calls.filter { $0.method == method } } }
    var responses: [String] { state.withLock { $0.responses } }
    var posted: [String] { state.withLock { $0.posted } }

    /// Runs `body` with the fake listening, then stops it.
    static func run<T: Sendable>(_ body: (FakeSlack) async throws -> T) async throws -> T {
        let fake = FakeSlack()
        let app = Application(
            router: fake.router(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in fake.port.withLock { $0 = channel.localAddress?.port ?? 0 } },
            logger: Logger(label: "fake-slack")
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "fake-slack")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        try await waitUntil { fake.port.withLock { $0 } != 0 }
        let result = try await body(fake)
        await group.triggerGracefulShutdown()
        return result
    }

    private static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/api/:method") { request, context in
            let method = try context.parameters.require("method")
            let body = try await request.body.collect(upTo: 8 << 20)
            let fields = FormBody.decode(body.readableBytesView) ?? [:]
            let limited = self.state.withLock { state -> Bool in
                state.calls.append(Call(method: method, fields: fields))
                guard let remaining = state.rateLimits[method], remaining > 0 else { return false }
                state.rateLimits[method] = remaining - 1
                return true
            }
            if limited {
                return Response(status: .tooManyRequests, headers: [.retryAfter: "1"])
            }
            guard request.headers[.authorization] == "Bearer \(Self.botToken)" else { return Self.json(["ok": false, "error": "invalid_auth"]) }
            return Self.json(self.answer(method, fields))
        }
        router.post("/upload/:file") { request, context in
            let file = try context.parameters.require("file")
            let body = try await request.body.collect(upTo: 16 << 20)
            self.state.withLock { $0.uploads[file] = Array(body.readableBytesView) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "OK - \(body.readableBytes)")))
        }
        router.post("/respond/:id") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            self.state.withLock { $0.responses.append(String(buffer: body)) }
            return Response(status: .ok)
        }
        return router
    }

    private func answer(_ method: String, _ fields: [String: String]) -> [String: Any] {
        state.withLock { state in
            switch method {
            case "files.getUploadURLExternal":
                guard fields["filename"] != nil, let length = fields["length"].flatMap(Int.init), length > 0 else {
                    return ["ok": false, "error": "invalid_arguments"]
                }
                let file = "F\(state.nextID)"
                state.nextID += 1
                return ["ok": true, "upload_url": "http://127.0.0.1:\(port.withLock { $0 })/upload/\(file)", "file_id": file]
            case "files.completeUploadExternal":
                guard let data = fields["files"]?.data(using: .utf8),
                    let files = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]],
                    let ids = files.map({ $0["id"] as? String }) as? [String], ids.allSatisfy({ state.uploads[$0] != nil })
                else { return ["ok": false, "error": "invalid_arguments"] }
                for id in ids { state.completedAt[id] = .now }
                return ["ok": true, "files": ids.map { ["id": $0] }]
            case "chat.postMessage":
                guard let channel = fields["channel"] else { return ["ok": false, "error": "channel_not_found"] }
                if state.channelsWithoutBot.contains(channel) { return ["ok": false, "error": "not_in_channel"] }
                let files = Self.slackFileIDs(in: fields["blocks"] ?? "[]")
                let ready = files.allSatisfy { state.completedAt[$0].map { ContinuousClock.now - $0 >= state.fileReadyAfter } ?? false }
                guard ready else { return ["ok": false, "error": "invalid_blocks"] }
                let ts = "1700000000.\(String(format: "%06d", state.nextID))"
                state.nextID += 1
                state.posted.append(ts)
                return ["ok": true, "channel": channel, "ts": ts, "message": ["ts": ts]]
            case "chat.update":
                return ["ok": true, "channel": fields["channel"] ?? "", "ts": fields["ts"] ?? ""]
            default:
                return ["ok": false, "error": "unknown_method"]
            }
        }
    }

    private static func slackFileIDs(in blocks: String) -> [String] {
        guard let array = (try? JSONSerialization.jsonObject(with: Data(blocks.utf8))) as? [[String: Any]] else { return ["unparseable"] }
        return array.compactMap { ($0["slack_file"] as? [String: Any])?["id"] as? String }
    }

    private static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
