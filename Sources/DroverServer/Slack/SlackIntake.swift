import DroverCore
import DroverSlack
import DroverStore
import Foundation

/// What Slack sends, taken in: the same for HTTP and Socket Mode. Anything Drover acts on is
/// written to the inbox in one transaction before the caller acknowledges it; a redelivery
/// carries the same key (`event_id`, `trigger_id`, `action_ts`) and changes nothing.
///
/// A reaction's vote is applied in the very transaction that stores it: one commit both makes
/// the acknowledgement safe and counts the vote. (Reactions arrive unordered anyway, and their
/// outcome does not depend on the order they are applied in.) Should that fail, the reaction is
/// stored pending for the vote lane instead.
struct SlackIntake: Sendable {
    let inbox: Inbox
    let reactions: ReactionVotes
    let announcer: VoteAnnouncer
    let votesDoorbell: Doorbell
    let generationsDoorbell: Doorbell
    let slashCommand: String
    /// Listener mode: whose `file_shared` events are collected.
    let listenBotUser: String?
    /// The most `/ox` requests waiting before a new one is turned away politely.
    let maxQueuedCommands: Int

    /// What an Events API delivery is answered with.
    enum EventAnswer: Equatable {
        /// `url_verification`: echo the challenge.
        case challenge(String)
        case acknowledged
    }

    /// Takes an Events API envelope.
    /// - Throws: ``SlackIntakeError`` for an envelope that cannot be valid.
    func receive(_ envelope: EventEnvelope) async throws -> EventAnswer {
        try await withCheckedThrowingContinuation { continuation in
            receive(envelope) { continuation.resume(with: $0) }
        }
    }

    /// ``receive(_:)`` for a caller on an event loop: `completion` is called once — at once for an
    /// envelope that needs no inbox write, else on the inbox writer's thread after the write.
    /// A ``SlackIntakeError`` comes as its failure.
    func receive(_ envelope: EventEnvelope, completion: @escaping @Sendable (Result<EventAnswer, any Error>) -> Void) {
        switch envelope.type {
        case "url_verification":
            guard let challenge = envelope.challenge else {
                return completion(.failure(SlackIntakeError("url_verification without a challenge")))
            }
            completion(.success(.challenge(challenge)))
        case "event_callback":
            guard let eventID = envelope.eventID, !eventID.isEmpty, eventID.utf8.count <= 100 else {
                return completion(.failure(SlackIntakeError("event_callback without an event_id")))
            }
            let key = "slack-event:\(eventID)"
            if let change = ReactionChange(envelope: envelope) {
                storeApplying(change, key: key) { completion($0.map { .acknowledged }) }
            } else if let listenBotUser, let share = FileShare(envelope: envelope, by: listenBotUser) {
                do {
                    let payload = try JSONEncoder().encode(share)
                    store(key: key, kind: SharedFileHandler.kind, payload: payload, ringing: generationsDoorbell) {
                        completion($0.map { .acknowledged })
                    }
                } catch {
                    completion(.failure(error))
                }
            } else {
                completion(.success(.acknowledged))
            }
        default:
            // app_rate_limited, event types Drover does not use: acknowledged and ignored,
            // since an error would only make Slack retry them.
            completion(.success(.acknowledged))
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
        case .generate(let generation):
            // Overload: a slow generator or a slow Slack must not make anyone wait for an
            // answer that never comes. Votes have their own lane and are not affected.
            guard try inbox.depth(kinds: [SlashCommandHandler.kind]) < maxQueuedCommands else {
                return "Drover is busy with other images right now — please try again in a minute."
            }
            try await accept(
                key: "slack-command:\(command.triggerID)", kind: SlashCommandHandler.kind,
                payload: try JSONEncoder().encode(SlashCommandJob(command: command, request: generation)), ringing: generationsDoorbell
            )
            let images = generation.count == 1 ? "an image" : "\(generation.count) images"
            return "Generating \(images) for “\(generation.prompt)”… they will appear here for 👍 / 👎 votes."
        }
    }

    /// Takes an interaction; vote-button clicks become votes, anything else is ignored.
    func receive(_ payload: BlockActionsPayload) async throws {
        for vote in ButtonVote.votes(in: payload) {
            try await accept(
                key: "slack-action:\(vote.actionTS):\(vote.user):\(vote.imageID)", kind: ButtonVotes.kind, payload: try JSONEncoder().encode(vote),
                ringing: votesDoorbell
            )
        }
    }

    /// One durable inbox write (grouped with concurrent ones into one transaction), then a ring.
    private func accept(key: String, kind: String, payload: Data, ringing doorbell: Doorbell) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            store(key: key, kind: kind, payload: payload, ringing: doorbell) { continuation.resume(with: $0) }
        }
    }

    /// Stores a reaction and applies its vote in one transaction; `completion` is called on the
    /// inbox writer's thread.
    private func storeApplying(_ change: ReactionChange, key: String, completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let now = Date()
        let decision = reactions.decision(for: change, receivedAt: now)
        inbox.accept(idempotencyKey: key, kind: ReactionVotes.kind, payload: Data(change.payload), at: now) { db in
            try VoteLane.vote(decision, in: db)
        } completion: { [announcer, votesDoorbell] result in
            switch result {
            case .success(.handled(let event?)): Task { await announcer.announce([event]) }
            case .success(.deferred): votesDoorbell.ring()
            case .success(.handled(nil)), .success(.duplicate), .failure: break
            }
            completion(result.map { _ in })
        }
    }

    /// ``accept(key:kind:payload:ringing:)`` that calls `completion` on the inbox writer's thread.
    private func store(
        key: String, kind: String, payload: Data, ringing doorbell: Doorbell, completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        inbox.accept(idempotencyKey: key, kind: kind, payload: payload) { result in
            if case .success = result { doorbell.ring() }
            completion(result.map { _ in })
        }
    }
}

/// Something Slack sent that cannot be valid; the message says what.
struct SlackIntakeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
