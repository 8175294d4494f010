import Foundation
import HummingbirdWSClient
import Logging
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// One Socket Mode envelope: what HTTP mode would have POSTed, wrapped with an id to acknowledge.
public struct SocketModeEnvelope: Sendable {
    /// `events_api`, `slash_commands` or `interactive`.
    public var type: String
    public var envelopeID: String
    public var retryAttempt: Int
    /// The whole frame, from which ``payload(as:)`` decodes the inner payload.
    let frame: Data

    /// The inner payload: an Events API envelope, the slash command's fields, or an interaction.
    public func payload<Payload: Decodable>(as type: Payload.Type) throws -> Payload {
        try JSONDecoder().decode(Wrapped<Payload>.self, from: frame).payload
    }

    private struct Wrapped<Payload: Decodable>: Decodable {
        var payload: Payload
    }
}

/// A text frame's outer fields: an envelope's, or those of `hello` and `disconnect`.
struct SocketModeFrame: Decodable {
    var type: String
    var envelopeID: String?
    var reason: String?
    var retryAttempt: Int?

    enum CodingKeys: String, CodingKey {
        case type, reason
        case envelopeID = "envelope_id"
        case retryAttempt = "retry_attempt"
    }
}

/// The acknowledgement of an envelope, with the handler's response payload if it has one.
struct SocketModeAcknowledgement: Encodable {
    var envelopeID: String
    var payload: CommandResponse?

    enum CodingKeys: String, CodingKey {
        case payload
        case envelopeID = "envelope_id"
    }
}

/// Drover's side of Slack Socket Mode: no public URL needed.
///
/// Calls `apps.connections.open` with the app token for every (re)connect, reads envelopes,
/// hands each to `handle` — which writes it to the inbox — and only then acknowledges it with
/// `{"envelope_id": …}` (plus the handler's response payload, for slash commands).
/// Reconnects with exponential backoff on `disconnect` (`refresh_requested`, `warning`, …), when
/// the socket closes, and when pings go unanswered. Unacknowledged envelopes are redelivered by
/// Slack; the inbox's idempotency keys make a redelivery change nothing.
public final class SocketModeClient: Service {
    /// Answers an envelope: the response payload to send with the acknowledgement, if any.
    /// Throwing leaves the envelope unacknowledged, so Slack redelivers it.
    public typealias Handler = @Sendable (SocketModeEnvelope) async throws -> CommandResponse?

    private let opener: SlackWebClient
    private let handle: Handler
    private let pingInterval: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - appToken: the app-level token, `xapp-…`; never logged.
    ///   - apiURL: the Web API base.
    ///   - pingInterval: a ping goes out this often; no pong by the next one drops the connection.
    public init(appToken: String, apiURL: String, pingInterval: Duration = .seconds(10), logger: Logger, handle: @escaping Handler) {
        self.opener = SlackWebClient(token: appToken, baseURL: apiURL, logger: logger)
        self.handle = handle
        self.pingInterval = pingInterval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = Backoff()
            while !Task.isCancelled {
                do {
                    let outcome = try await self.connectOnce()
                    if outcome.greeted { backoff.reset() }
                    self.logger.info("Socket Mode connection ended; reconnecting", metadata: ["reason": "\(outcome.reason)"])
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("Socket Mode connection failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Opens one connection and serves it until it ends.
    /// - Returns: why it ended, and whether Slack said hello first.
    func connectOnce() async throws -> (reason: String, greeted: Bool) {
        let url = try await opener.call("apps.connections.open", [:], answer: ConnectionsOpenAnswer.self).url
        let state = ConnectionState()
        try await WebSocketClient.connect(
            url: url,
            configuration: .init(maxFrameSize: 1 << 20, autoPing: .enabled(timePeriod: pingInterval)),
            logger: logger
        ) { inbound, outbound, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message,
                    let frame = try? JSONDecoder().decode(SocketModeFrame.self, from: Data(text.utf8))
                else { continue }
                switch frame.type {
                case "hello":
                    state.greet()
                case "disconnect":
                    state.end("disconnect: \(frame.reason ?? "unknown")")
                    try await outbound.close(.normalClosure, reason: nil)
                    return
                default:
                    guard let envelopeID = frame.envelopeID else { continue }
                    let envelope = SocketModeEnvelope(
                        type: frame.type, envelopeID: envelopeID, retryAttempt: frame.retryAttempt ?? 0, frame: Data(text.utf8)
                    )
                    try await self.acknowledge(envelope, on: outbound)
                }
            }
            state.end("closed")
        }
        return (state.reason ?? "closed", state.greeted)
    }

    private func acknowledge(_ envelope: SocketModeEnvelope, on outbound: WebSocketOutboundWriter) async throws {
        let response: CommandResponse?
        do {
            response = try await handle(envelope)
        } catch {
            logger.error("Socket Mode envelope not taken; Slack will redeliver it", metadata: [
                "envelope_id": "\(envelope.envelopeID)", "type": "\(envelope.type)", "error": "\(error)",
            ])
            return
        }
        let data = try JSONEncoder().encode(SocketModeAcknowledgement(envelopeID: envelope.envelopeID, payload: response))
        try await outbound.writeTextMessage(String(decoding: data, as: UTF8.self))
    }
}

/// What happened on a connection, set from inside its handler.
private final class ConnectionState: Sendable {
    private let state = Mutex<(reason: String?, greeted: Bool)>((nil, false))
    func greet() { state.withLock { $0.greeted = true } }
    func end(_ reason: String) { state.withLock { $0.reason = $0.reason ?? reason } }
    var reason: String? { state.withLock { $0.reason } }
    var greeted: Bool { state.withLock { $0.greeted } }
}

/// `apps.connections.open`'s answer.
struct ConnectionsOpenAnswer: Decodable {
    var url: String
}

/// Exponential backoff with jitter for reconnects: 0.5 s doubling to 30 s.
struct Backoff {
    private var current: Duration = .milliseconds(500)

    mutating func next() -> Duration {
        defer { current = min(current * 2, .seconds(30)) }
        return current.jittered()
    }

    mutating func reset() {
        current = .milliseconds(500)
    }
}
