import DroverCore
import DroverSlack
import DroverStore
import Foundation
import Hummingbird

/// Slack over HTTP: `/slack/events`, `/slack/commands`, `/slack/interactivity`.
///
/// Each request is verified (``SlackSignatureMiddleware``), parsed, and — if it is something
/// Drover acts on — written to the inbox in one transaction before the 2xx goes back. Retried
/// deliveries carry the same key (`event_id`, `trigger_id`, `action_ts`) and change nothing.
struct SlackController {
    let settings: SlackSettings
    let inbox: Inbox
    let votesDoorbell: Doorbell
    let generationsDoorbell: Doorbell

    func addRoutes(to router: Router<DroverRequestContext>) {
        let group = router.group("slack").add(middleware: SlackSignatureMiddleware(signature: SlackSignature(signingSecret: settings.signingSecret)))
        group.post("events", use: events)
        group.post("commands", use: commands)
        group.post("interactivity", use: interactivity)
    }

    // MARK: - Events API

    @Sendable func events(request: Request, context: DroverRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let envelope: EventEnvelope
        do {
            envelope = try JSONDecoder().decode(EventEnvelope.self, from: body)
        } catch {
            throw HTTPError(.badRequest, message: "not an Events API payload: \(Self.describe(error))")
        }
        switch envelope.type {
        case "url_verification":
            guard let challenge = envelope.challenge else { throw HTTPError(.badRequest, message: "url_verification without a challenge") }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: challenge)))
        case "event_callback":
            guard let eventID = envelope.eventID, !eventID.isEmpty, eventID.utf8.count <= 100 else {
                throw HTTPError(.badRequest, message: "event_callback without an event_id")
            }
            if let change = ReactionChange(envelope: envelope) {
                try accept(key: "slack-event:\(eventID)", kind: ReactionHandler.kind, payload: change, ringing: votesDoorbell)
            }
            return Response(status: .ok)
        default:
            // Anything else (app_rate_limited, event types Drover does not use) is acknowledged
            // and ignored: a 4xx would only make Slack retry it.
            return Response(status: .ok)
        }
    }

    // MARK: - Slash commands

    @Sendable func commands(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        if form["ssl_check"] == "1" { return Response(status: .ok) }
        guard let command = SlashCommand(form: form) else {
            throw HTTPError(.badRequest, message: "a slash command needs team_id, channel_id, user_id, command, response_url and trigger_id")
        }
        let usage = OxCommand.usage(command: settings.slashCommand)
        switch Result(catching: { () throws(OxCommandError) in try OxCommand.parse(command.text) }) {
        case .success(.help):
            return try Self.ephemeral(usage)
        case .failure(let error):
            return try Self.ephemeral("\(error.description.prefix(1).uppercased())\(error.description.dropFirst()).\n\n\(usage)")
        case .success(.generate(let generation)):
            try accept(
                key: "slack-command:\(command.triggerID)", kind: SlashCommandHandler.kind,
                payload: SlashCommandJob(command: command, request: generation), ringing: generationsDoorbell
            )
            let images = generation.count == 1 ? "an image" : "\(generation.count) images"
            return try Self.ephemeral("Generating \(images) for “\(generation.prompt)”… they will appear here for 👍 / 👎 votes.")
        }
    }

    // MARK: - Interactivity

    @Sendable func interactivity(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let payloadText = form["payload"] else { throw HTTPError(.badRequest, message: "no payload field") }
        let payload: BlockActionsPayload
        do {
            payload = try JSONDecoder().decode(BlockActionsPayload.self, from: Data(payloadText.utf8))
        } catch {
            // Other interaction types (shortcuts, view submissions) are not Drover's.
            return Response(status: .ok)
        }
        for vote in ButtonVote.votes(in: payload) {
            try accept(
                key: "slack-action:\(vote.actionTS):\(vote.user):\(vote.imageID)", kind: ButtonHandler.kind, payload: vote,
                ringing: votesDoorbell
            )
        }
        return Response(status: .ok)
    }

    // MARK: - Helpers

    private func accept(key: String, kind: String, payload: some Encodable, ringing doorbell: Doorbell) throws {
        _ = try inbox.accept(idempotencyKey: key, kind: kind, payload: try JSONEncoder().encode(payload))
        doorbell.ring()
    }

    private static func form(_ request: Request, context: DroverRequestContext) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard let form = FormBody.decode(body.readableBytesView) else {
            throw HTTPError(.badRequest, message: "the body is not UTF-8 form data")
        }
        return form
    }

    private static func ephemeral(_ text: String) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["response_type": "ephemeral", "text": text])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "malformed JSON"
        }
    }
}
