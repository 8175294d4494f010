import DroverSlack
import Foundation

extension SlackIntake {
    /// Takes a Socket Mode envelope: the same payloads as HTTP, without signatures (the app
    /// token authenticates the connection).
    /// - Returns: the response payload for the acknowledgement (a slash command's ephemeral answer).
    /// - Throws: only when the inbox cannot be written, so that the envelope stays unacknowledged
    ///   and Slack redelivers it. A payload that cannot be valid is acknowledged and dropped.
    func receive(_ envelope: SocketModeEnvelope) async throws -> [String: Any]? {
        switch envelope.type {
        case "events_api":
            guard let event = try? EventEnvelope(parsing: envelope.payload) else { return nil }
            do {
                _ = try await receive(event)
            } catch is SlackIntakeError {
                // An envelope that cannot be valid: acknowledged and dropped.
            }
            return nil
        case "slash_commands":
            let object = (try? JSONSerialization.jsonObject(with: envelope.payload)) as? [String: Any] ?? [:]
            guard let command = SlashCommand(form: object.compactMapValues { $0 as? String }) else { return nil }
            return ["response_type": "ephemeral", "text": try await receive(command)]
        case "interactive":
            if let payload = try? JSONDecoder().decode(BlockActionsPayload.self, from: envelope.payload) {
                try await receive(payload)
            }
            return nil
        default:
            return nil
        }
    }
}
