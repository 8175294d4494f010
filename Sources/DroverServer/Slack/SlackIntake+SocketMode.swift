import DroverSlack
import Foundation

extension SlackIntake {
    /// Takes a Socket Mode envelope: the same payloads as HTTP, without signatures (the app
    /// token authenticates the connection).
    /// - Returns: the response payload for the acknowledgement (a slash command's ephemeral answer).
    /// - Throws: only when the inbox cannot be written, so that the envelope stays unacknowledged
    ///   and Slack redelivers it. A payload that cannot be valid is acknowledged and dropped.
    func receive(_ envelope: SocketModeEnvelope) throws -> [String: Any]? {
        switch envelope.type {
        case "events_api":
            guard let event = try? JSONDecoder().decode(EventEnvelope.self, from: envelope.payload) else { return nil }
            _ = try receiveValid { try receive(event) }
            return nil
        case "slash_commands":
            let object = (try? JSONSerialization.jsonObject(with: envelope.payload)) as? [String: Any] ?? [:]
            guard let command = SlashCommand(form: object.compactMapValues { $0 as? String }) else { return nil }
            return ["response_type": "ephemeral", "text": try receive(command)]
        case "interactive":
            if let payload = try? JSONDecoder().decode(BlockActionsPayload.self, from: envelope.payload) {
                try receive(payload)
            }
            return nil
        default:
            return nil
        }
    }

    /// Runs `body`, turning a ``SlackIntakeError`` (an invalid payload) into `nil`.
    private func receiveValid<T>(_ body: () throws -> T) throws -> T? {
        do {
            return try body()
        } catch is SlackIntakeError {
            return nil
        }
    }
}
