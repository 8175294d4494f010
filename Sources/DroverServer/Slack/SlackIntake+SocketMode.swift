import DroverSlack

extension SlackIntake {
    /// Takes a Socket Mode envelope: the same payloads as HTTP, without signatures (the app
    /// token authenticates the connection).
    /// - Returns: the response payload for the acknowledgement (a slash command's ephemeral answer).
    /// - Throws: only when the inbox cannot be written, so that the envelope stays unacknowledged
    ///   and Slack redelivers it. A payload that cannot be valid is acknowledged and dropped.
    func receive(_ envelope: SocketModeEnvelope) async throws -> CommandResponse? {
        switch envelope.type {
        case "events_api":
            guard let event = try? envelope.payload(as: EventEnvelope.self) else { return nil }
            do {
                _ = try await receive(event)
            } catch is SlackIntakeError {
                // An envelope that cannot be valid: acknowledged and dropped.
            }
            return nil
        case "slash_commands":
            guard let command = try? envelope.payload(as: SlashCommand.self) else { return nil }
            return .ephemeral(try await receive(command))
        case "interactive":
            if let payload = try? envelope.payload(as: BlockActionsPayload.self) {
                try await receive(payload)
            }
            return nil
        default:
            return nil
        }
    }
}
