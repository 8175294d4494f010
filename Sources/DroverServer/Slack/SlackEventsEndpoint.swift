import DroverSlack
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// How a delivery to `POST /slack/events` is answered: Slack's signature checked over the raw
/// body, the envelope read, then the ``SlackIntake``'s decision. It runs on the connection's event
/// loop (``SlackEventsChannelHandler``), so it neither blocks nor suspends: `reply` is called once,
/// at once for anything that needs no inbox write, else from the inbox writer's thread after it.
struct SlackEventsEndpoint: Sendable {
    static let path = "/slack/events"

    let signature: SlackSignature
    let intake: SlackIntake
    let logger: Logger

    /// Whether a request head is a delivery this endpoint answers: its target is the path, in
    /// origin form (`/slack/events`) or absolute form (`http://host/slack/events`, RFC 9112
    /// §3.2.2), with or without a query.
    static func answers(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .POST else { return false }
        var target = head.uri.utf8[...]
        if target.first != UInt8(ascii: "/"), let scheme = target.firstRange(of: "://".utf8) {
            target = target[scheme.upperBound...].drop { $0 != UInt8(ascii: "/") }
        }
        return target.prefix { $0 != UInt8(ascii: "?") }.elementsEqual(path.utf8)
    }

    func answer(_ head: HTTPRequestHead, body: ByteBuffer, reply: @escaping @Sendable (SlackEventsReply) -> Void) {
        do throws(SlackSignatureError) {
            try signature.verify(
                body: body.readableBytesView, timestamp: head.headers.only(HTTPField.Name.slackRequestTimestamp.rawName),
                signature: head.headers.only(HTTPField.Name.slackSignature.rawName)
            )
        } catch {
            logger.notice("refused a Slack request", metadata: ["reason": "\(error)"])
            return reply(.error(.unauthorized, error.description))
        }
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope(parsing: body.readableBytesView)
        } catch {
            return reply(.error(.badRequest, "not an Events API payload: \(error)"))
        }
        intake.receive(envelope) { [logger] result in
            switch result {
            case .success(.challenge(let challenge)): reply(SlackEventsReply(status: .ok, contentType: "text/plain", body: Array(challenge.utf8)))
            case .success(.acknowledged): reply(SlackEventsReply(status: .ok))
            case .failure(let error as SlackIntakeError): reply(.error(.badRequest, error.description))
            case .failure(let error):
                // Not acknowledged, so Slack delivers it again.
                logger.error("could not store a Slack event", metadata: ["error": "\(error)"])
                reply(.error(.internalServerError, "the event could not be stored; Slack will deliver it again"))
            }
        }
    }
}

/// The response to a delivery.
struct SlackEventsReply: Sendable {
    var status: HTTPResponse.Status
    var contentType: String?
    var body: [UInt8] = []

    /// An error, in the shape of every other error response: `{"error": {"message": …}}`.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Self {
        let json = JSONValue.object(["error": .object(["message": .string(message)])])
        return Self(status: status, contentType: "application/json; charset=utf-8", body: json.serialized)
    }
}
