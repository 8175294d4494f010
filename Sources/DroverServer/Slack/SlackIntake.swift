import DroverCore
import DroverSlack
import DroverStore
import Foundation

/// What Slack sends, taken in: the same for HTTP and Socket Mode. Anything Drover acts on is
/// written to the inbox in one transaction before the caller acknowledges it; a redelivery
/// carries the same key (`event_id`, `trigger_id`, `action_ts`) and changes nothing. Votes are
/// applied by the ``VoteLane`` and generations by their own lane, each rung here.
struct SlackIntake: Sendable {
    let inbox: Inbox
    let votesDoorbell: Doorbell
    let generationsDoorbell: Doorbell
    let slashCommand: String
    /// Listener mode: whose `file_shared` events are collected.
    let listenBotUser: String?
    /// The most `/ox` requests waiting before a new one is turned away politely.
    let maxQueuedCommands: Int
    /// `/ox stats`: answered at once, since it only reads.
    let stats: StatsAnswer

    /// What an Events API delivery is answered with.
    enum EventAnswer: Equatable {
        /// `url_verification`: echo the challenge.
        case challenge(String)
        case acknowledged
    }

    /// Takes an Events API envelope.
    /// - Throws: ``SlackIntakeError`` for an envelope that cannot be valid; any other error means
    ///   it was not stored (and must not be acknowledged).
    func receive(_ envelope: EventEnvelope) async throws -> EventAnswer {
        switch envelope.type {
        case "url_verification":
            guard let challenge = envelope.challenge else { throw SlackIntakeError("url_verification without a challenge") }
            return .challenge(challenge)
        case "event_callback":
            guard let eventID = envelope.eventID, !eventID.isEmpty, eventID.utf8.count <= 100 else {
                throw SlackIntakeError("event_callback without an event_id")
            }
            let key = "slack-event:\(eventID)"
            if let change = ReactionChange(envelope: envelope) {
                try await accept(key: key, kind: VoteItem.slackReaction.rawValue, payload: change, ringing: votesDoorbell)
            } else if let listenBotUser, let share = FileShare(envelope: envelope, by: listenBotUser) {
                try await accept(key: key, kind: SharedFileHandler.kind, payload: share, ringing: generationsDoorbell)
            }
            return .acknowledged
        default:
            // app_rate_limited, event types Drover does not use: acknowledged and ignored,
            // since an error would only make Slack retry them.
            return .acknowledged
        }
    }

    /// Takes a slash command and returns the ephemeral text to show the requester at once.
    func receive(_ command: SlashCommand) async throws -> String {
        let usage = OxCommand.usage(command: slashCommand)
        let parsed: OxCommand
        do {
            parsed = try OxCommand.parse(command.text)
        } catch {
            return "\(error.description.prefix(1).uppercased())\(error.description.dropFirst()).\n\n\(usage)"
        }
        switch parsed {
        case .help:
            return usage
        case .stats:
            return try stats.text()
        case .generate(let generation):
            // Overload: a slow generator or a slow Slack must not make anyone wait for an
            // answer that never comes. Votes have their own lane and are not affected.
            guard try inbox.depth(kinds: [SlashCommandHandler.kind]) < maxQueuedCommands else {
                return "Drover is busy with other images right now — please try again in a minute."
            }
            try await accept(
                key: "slack-command:\(command.triggerID)", kind: SlashCommandHandler.kind,
                payload: SlashCommandJob(command: command, request: generation), ringing: generationsDoorbell
            )
            let images = generation.count == 1 ? "an image" : "\(generation.count) images"
            return "Generating \(images) for “\(generation.prompt)”… they will appear here for 👍 / 👎 votes."
        }
    }

    /// Takes an interaction; vote-button clicks become votes, anything else is ignored.
    func receive(_ payload: BlockActionsPayload) async throws {
        for vote in ButtonVote.votes(in: payload) {
            try await accept(
                key: "slack-action:\(vote.actionTS):\(vote.user):\(vote.imageID)", kind: VoteItem.slackButton.rawValue, payload: vote,
                ringing: votesDoorbell
            )
        }
    }

    /// One durable inbox write (grouped with concurrent ones into one transaction), then a ring.
    private func accept(key: String, kind: String, payload: some Encodable, ringing doorbell: Doorbell) async throws {
        _ = try await inbox.accept(idempotencyKey: key, kind: kind, payload: try JSONEncoder().encode(payload))
        doorbell.ring()
    }
}

/// Something Slack sent that cannot be valid; the message says what.
struct SlackIntakeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
