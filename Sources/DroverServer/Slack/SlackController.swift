import DroverSlack
import Foundation
import Hummingbird

/// Slack over HTTP through the router: `/slack/commands` and `/slack/interactivity`. Each request
/// is verified (``SlackSignatureMiddleware``), parsed, and handed to the ``SlackIntake``.
/// `/slack/events` is served ahead of the router, by ``SlackEventsChannelHandler``.
struct SlackController {
    let signingSecret: String
    let intake: SlackIntake

    func addRoutes(to router: Router<DroverRequestContext>) {
        let group = router.group("slack").add(middleware: SlackSignatureMiddleware(signature: SlackSignature(signingSecret: signingSecret)))
        group.post("commands", use: commands)
        group.post("interactivity", use: interactivity)
    }

    @Sendable func commands(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        if form["ssl_check"] == "1" { return Response(status: .ok) }
        guard let command = SlashCommand(form: form) else {
            throw HTTPError(.badRequest, message: "a slash command needs team_id, channel_id, user_id, command, response_url and trigger_id")
        }
        let text = try await intake.receive(command)
        let body = try JSONSerialization.data(withJSONObject: ["response_type": "ephemeral", "text": text])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    @Sendable func interactivity(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let payloadText = form["payload"] else { throw HTTPError(.badRequest, message: "no payload field") }
        // Other interaction types (shortcuts, view submissions) do not decode and are not Drover's.
        if let payload = try? JSONDecoder().decode(BlockActionsPayload.self, from: Data(payloadText.utf8)) {
            try await intake.receive(payload)
        }
        return Response(status: .ok)
    }

    private static func form(_ request: Request, context: DroverRequestContext) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard let form = FormBody.decode(body.readableBytesView) else {
            throw HTTPError(.badRequest, message: "the body is not UTF-8 form data")
        }
        return form
    }
}
