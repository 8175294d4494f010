import DroverTestSupport
import DroverSlack
import Foundation
import Hummingbird
import HummingbirdWebSocket
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
    static let appToken = "xapp-1-fake-app-token"

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
        /// The ts of every message posted successfully, in order, and its blocks.
        var posted: [String] = []
        var postedBlocks: [String: String] = [:]
        var nextID = 1
        /// Answer this many calls of a method with 429 first.
        var rateLimits: [String: Int] = [:]
        /// A file can be shown in blocks only this long after its upload completed.
        var fileReadyAfter: Duration = .zero
        var channelsWithoutBot: Set<String> = []
        /// A slow Slack: answers to these methods wait this long.
        var delays: [String: Duration] = [:]
        /// Socket Mode: every envelope queued, in order, and the acknowledgements received for each.
        var envelopes: [(id: String, json: String)] = []
        var acks: [String: [String]] = [:]
        /// How each new Socket Mode connection behaves, first to last; then `.normal`.
        var connectionPlans: [ConnectionPlan] = []
        var connectionsOpened = 0
        var refreshRequested = false
        /// Files another bot shared, for `files.info` and downloads.
        var files: [String: SharedFile] = [:]
    }

    /// A file in the fake workspace.
    struct SharedFile: Sendable {
        var title: String
        var mimetype: String
        var bytes: [UInt8]
        var channel: String
        var ts: String
        /// `files.info` shows no share until it has been asked this many times.
        var infosBeforeShareKnown = 0
        /// Downloads fail with HTTP 500 this many times first.
        var failingDownloads = 0
        var infoCalls = 0
        var downloads = 0
    }

    /// How one Socket Mode connection behaves.
    enum ConnectionPlan: Sendable {
        /// Hello, then every unacknowledged envelope, until Drover goes away.
        case normal
        /// Hello, one envelope, then the connection drops without a close handshake.
        case dropAfterFirstEnvelope
        /// The WebSocket handshake completes, then nothing: no hello, no pongs.
        case silent
    }

    let state = Mutex(State())
    private let port = Mutex(0)
    private let silentURL = Mutex("")

    /// The Web API base Drover is pointed at (`SLACK_API_URL`).
    var apiURL: String { "http://127.0.0.1:\(port.withLock { $0 })/api/" }
    /// A `response_url` for a slash command.
    var responseURL: String { "http://127.0.0.1:\(port.withLock { $0 })/respond/1" }

    func calls(_ method: String) -> [Call] { state.withLock { $0.calls.filter { $0.method == method } } }

    /// Queues a Socket Mode envelope of `type` around `payload` (a JSON object's text).
    func enqueue(_ type: String, payload: String) -> String {
        state.withLock { state in
            let id = "env-\(state.envelopes.count + 1)"
            state.envelopes.append((id, #"{"envelope_id":"\#(id)","type":"\#(type)","accepts_response_payload":\#(type == "slash_commands"),"retry_attempt":0,"retry_reason":"","payload":\#(payload)}"#))
            return id
        }
    }

    /// The acknowledgements received for an envelope.
    func acks(_ id: String) -> [String] { state.withLock { $0.acks[id] ?? [] } }

    /// Asks the current connection to go away with `disconnect` / `refresh_requested`.
    func requestRefresh() { state.withLock { $0.refreshRequested = true } }
    var responses: [String] { state.withLock { $0.responses } }
    var posted: [String] { state.withLock { $0.posted } }

    /// The image a posted message shows: its vote buttons' value.
    func image(inMessage ts: String) -> String? {
        guard let blocks = state.withLock({ $0.postedBlocks[ts] }), let range = blocks.range(of: #""value":""#) else { return nil }
        return String(blocks[range.upperBound...].prefix(16))
    }

    /// Runs `body` with the fake listening, then stops it.
    static func run<T: Sendable>(_ body: (FakeSlack) async throws -> T) async throws -> T {
        let fake = FakeSlack()
        let silent = try await SilentWebSocketServer.start()
        defer { silent.stop() }
        fake.silentURL.withLock { $0 = "ws://127.0.0.1:\(silent.port)/link" }
        let app = Application(
            router: fake.router(),
            server: .http1WebSocketUpgrade { request, _, _ in
                guard request.path?.hasPrefix("/link") == true else { return .dontUpgrade }
                let drops = request.path?.contains("plan=drop") == true
                return .upgrade([:]) { inbound, outbound, _ in
                    try await fake.serveSocket(inbound: inbound, outbound: outbound, dropAfterFirstEnvelope: drops)
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in fake.port.withLock { $0 = channel.localAddress?.port ?? 0 } },
            logger: testLogger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
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
            let fields = (try? URLEncodedFormDecoder().decode([String: String].self, from: String(buffer: body))) ?? [:]
            let limited = self.state.withLock { state -> Bool in
                state.calls.append(Call(method: method, fields: fields))
                guard let remaining = state.rateLimits[method], remaining > 0 else { return false }
                state.rateLimits[method] = remaining - 1
                return true
            }
            if limited {
                return Response(status: .tooManyRequests, headers: [.retryAfter: "1"])
            }
            if let delay = self.state.withLock({ $0.delays[method] }) { try await Task.sleep(for: delay) }
            if method == "apps.connections.open" {
                guard request.headers[.authorization] == "Bearer \(Self.appToken)" else { return Self.json(["ok": false, "error": "invalid_auth"]) }
                return Self.json(["ok": true, "url": self.openConnection()])
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
        router.get("/download/:file") { request, context in
            let file = try context.parameters.require("file")
            guard request.headers[.authorization] == "Bearer \(Self.botToken)" else { return Response(status: .forbidden) }
            let bytes = self.state.withLock { state -> [UInt8]? in
                guard var shared = state.files[file] else { return nil }
                shared.downloads += 1
                defer { state.files[file] = shared }
                if shared.failingDownloads > 0 {
                    shared.failingDownloads -= 1
                    return nil
                }
                return shared.bytes
            }
            guard let bytes else { return Response(status: .internalServerError) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.post("/respond/:id") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            self.state.withLock { $0.responses.append(String(buffer: body)) }
            return Response(status: .ok)
        }
        return router
    }

    // MARK: - Socket Mode

    /// The WebSocket URL for the next connection, following the connection plans.
    private func openConnection() -> String {
        let plan = state.withLock { state -> ConnectionPlan in
            state.connectionsOpened += 1
            return state.connectionPlans.isEmpty ? .normal : state.connectionPlans.removeFirst()
        }
        let port = port.withLock { $0 }
        switch plan {
        case .normal: return "ws://127.0.0.1:\(port)/link?plan=normal"
        case .dropAfterFirstEnvelope: return "ws://127.0.0.1:\(port)/link?plan=drop"
        case .silent: return silentURL.withLock { $0 }
        }
    }

    /// Serves one connection: hello, then each unacknowledged envelope once, recording acks.
    func serveSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, dropAfterFirstEnvelope: Bool) async throws {
        try await outbound.writeTextMessage(#"{"type":"hello","num_connections":1,"debug_info":{"host":"fake"},"connection_info":{"app_id":"A0APP"}}"#)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message,
                        let ack = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                        let id = ack["envelope_id"] as? String
                    else { continue }
                    self.state.withLock { $0.acks[id, default: []].append(text) }
                }
            }
            group.addTask {
                var sent: Set<String> = []
                while true {
                    let (due, refresh) = self.state.withLock { state -> ([(id: String, json: String)], Bool) in
                        defer { state.refreshRequested = false }
                        return (state.envelopes.filter { state.acks[$0.id] == nil && !sent.contains($0.id) }, state.refreshRequested)
                    }
                    if refresh {
                        try await outbound.writeTextMessage(#"{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"fake"}}"#)
                        return
                    }
                    for envelope in due {
                        try await outbound.writeTextMessage(envelope.json)
                        sent.insert(envelope.id)
                        if dropAfterFirstEnvelope { return }
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            try await group.next()
            group.cancelAll()
        }
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
                state.postedBlocks[ts] = fields["blocks"]
                return ["ok": true, "channel": channel, "ts": ts, "message": ["ts": ts]]
            case "files.info":
                guard let id = fields["file"], var file = state.files[id] else { return ["ok": false, "error": "file_not_found"] }
                file.infoCalls += 1
                state.files[id] = file
                let shares: [String: Any] = file.infoCalls > file.infosBeforeShareKnown ? ["public": [file.channel: [["ts": file.ts, "channel_name": "images"]]]] : [:]
                return ["ok": true, "file": [
                    "id": id, "title": file.title, "name": "\(id).png", "mimetype": file.mimetype, "size": file.bytes.count,
                    "url_private_download": "http://127.0.0.1:\(port.withLock { $0 })/download/\(id)", "shares": shares,
                ] as [String: Any]]
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
