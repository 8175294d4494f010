import DroverSlack
import Foundation
import Hummingbird
import Logging
import NIOFoundationEssentialsCompat

/// Slack over HTTP: `/slack/events`, `/slack/commands` and `/slack/interactivity`, through the
/// router like every other route. Each request's signature is checked first
/// (``SlackSignatureMiddleware``), then its body is decoded and handed to the ``SlackIntake``.
struct SlackController {
    let signature: SlackSignature
    let intake: SlackIntake

    func addRoutes(to router: Router<DroverRequestContext>) {
        let group = router.group("slack").add(middleware: SlackSignatureMiddleware(signature: signature))
        group.post("events", use: events)
        group.post("commands", use: commands)
        group.post("interactivity", use: interactivity)
    }

    @Sendable func events(request: Request, context: DroverRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let envelope: EventEnvelope
        do {
            envelope = try JSONDecoder().decode(EventEnvelope.self, from: body)
        } catch {
            throw HTTPError(.badRequest, message: "not an Events API payload: \(error)")
        }
        let answer: SlackIntake.EventAnswer
        do {
            answer = try await intake.receive(envelope)
        } catch let error as SlackIntakeError {
            throw HTTPError(.badRequest, message: error.description)
        } catch {
            // Not acknowledged, so Slack delivers it again.
            context.logger.error("could not store a Slack event", metadata: ["event_id": "\(envelope.eventID ?? "")", "error": "\(error)"])
            throw HTTPError(.internalServerError, message: "the event could not be stored; Slack will deliver it again")
        }
        switch answer {
        case .challenge(let challenge):
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: challenge)))
        case .acknowledged:
            return Response(status: .ok)
        }
    }

    @Sendable func commands(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        if (try? URLEncodedFormDecoder().decode(SSLCheck.self, from: form))?.sslCheck == "1" { return Response(status: .ok) }
        let command: SlashCommand
        do {
            command = try URLEncodedFormDecoder().decode(SlashCommand.self, from: form)
        } catch {
            throw HTTPError(.badRequest, message: "a slash command needs team_id, channel_id, user_id, command, response_url and trigger_id")
        }
        let text = try await intake.receive(command)
        return try JSONEncoder().encode(CommandResponse.ephemeral(text), from: request, context: context)
    }

    @Sendable func interactivity(request: Request, context: DroverRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let payload = try? URLEncodedFormDecoder().decode(InteractionForm.self, from: form).payload else {
            throw HTTPError(.badRequest, message: "no payload field")
        }
        // Other interaction types (shortcuts, view submissions) do not decode and are not Drover's.
        if let actions = try? JSONDecoder().decode(BlockActionsPayload.self, from: Data(payload.utf8)) {
            try await intake.receive(actions)
        }
        return Response(status: .ok)
    }

    /// The body as form text (already read and verified by the signature middleware).
    private static func form(_ request: Request, context: DroverRequestContext) async throws -> String {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw HTTPError(.badRequest, message: "the body is not UTF-8 form data")
        }
        return text
    }

    /// `ssl_check=1`: Slack checking the certificate of a command URL.
    private struct SSLCheck: Decodable {
        var sslCheck: String?
        enum CodingKeys: String, CodingKey { case sslCheck = "ssl_check" }
    }

    /// An interactivity POST: one field, `payload`, holding JSON.
    private struct InteractionForm: Decodable {
        var payload: String
    }
}
