import DroverCore
import FoundationEssentials
import GRDB

/// What an inbox item asks of the ledger's votes, read from its payload outside any transaction.
/// Whatever needs the ledger's state (is this message one of Drover's images? what is the
/// rater's rating now?) is decided inside the transaction that applies it.
public enum VoteIntent: Sendable, Equatable {
    /// Set or take back a rating.
    case command(VoteCommand)
    /// A 👍 / 👎 reaction added to or removed from a Slack message: a vote only on a message that
    /// shows one of Drover's images, ordered by when it happened (Slack delivers events unordered).
    case reaction(MessageReaction)
    /// A vote button clicked: sets the rating, or takes it back when it is the rater's current one.
    case toggle(imageID: ImageID, rater: String, rating: Rating, occurredAt: Date)
}

/// A rater's 👍 / 👎 reaction on a Slack message, before it is known which image the message shows.
public struct MessageReaction: Sendable, Equatable {
    public var channel: String
    public var messageTS: String
    public var rater: String
    public var rating: Rating
    public var added: Bool
    /// When it happened (Slack's `event_ts`), in microseconds since 1970.
    public var eventTime: Int64

    public init(channel: String, messageTS: String, rater: String, rating: Rating, added: Bool, eventTime: Int64) {
        self.channel = channel
        self.messageTS = messageTS
        self.rater = rater
        self.rating = rating
        self.added = added
        self.eventTime = eventTime
    }
}

/// What ``Ledger/applyVotes(_:)`` did with a batch.
public struct VoteBatchOutcome: Sendable {
    /// The vote events recorded, in inbox order.
    public var events: [VoteEventRecord] = []
    /// The items that failed, each with its failed attempt counted (set aside once it reaches
    /// ``Inbox/maxAttempts``).
    public var failures: [(item: InboxItem, error: String)] = []
}

extension Ledger {
    /// Applies a batch of pending vote items in one transaction: each item's intent is applied
    /// and the item marked done together, so a crash before the commit leaves the whole batch
    /// pending and after it the whole batch done. An item no longer pending is skipped. An item
    /// that fails is rolled back alone and its failure recorded, for a later batch.
    /// - Parameter batch: items with what they ask for, or why it could not be read.
    public func applyVotes(_ batch: [(item: InboxItem, intent: Result<VoteIntent, any Error>)]) async throws -> VoteBatchOutcome {
        try await database.write { db in
            // Nearly always every item applies, so the batch first goes in one savepoint; only if
            // an item fails is that rolled back and the batch applied again with a savepoint per
            // item, so that the failing item alone is set aside.
            var events: [VoteEventRecord]?
            try db.inSavepoint {
                events = try? batch.compactMap { try Self.applyOne($0.item, $0.intent, in: db) }
                return events == nil ? .rollback : .commit
            }
            if let events { return VoteBatchOutcome(events: events) }
            var outcome = VoteBatchOutcome()
            for (item, intent) in batch {
                do {
                    var event: VoteEventRecord?
                    try db.inSavepoint {
                        event = try Self.applyOne(item, intent, in: db)
                        return .commit
                    }
                    if let event { outcome.events.append(event) }
                } catch {
                    var failed = item
                    failed.attempts += 1
                    try Inbox.recordFailure(of: failed, error: "\(error)", in: db)
                    outcome.failures.append((failed, "\(error)"))
                }
            }
            return outcome
        }
    }

    /// Marks `item` done and applies its intent, unless it is no longer pending.
    private static func applyOne(_ item: InboxItem, _ intent: Result<VoteIntent, any Error>, in db: Database) throws -> VoteEventRecord? {
        guard try Inbox.completeIfPending(item, in: db) else { return nil }
        return try command(for: intent.get(), in: db).flatMap { try apply($0, in: db) }
    }

    /// The vote an intent comes to in the ledger's present state, or `nil` for none.
    static func command(for intent: VoteIntent, in db: Database) throws -> VoteCommand? {
        switch intent {
        case .command(let command):
            return command
        case .reaction(let reaction):
            // Most reactions in a channel are on other messages: those cost one lookup.
            guard let imageID = try imageShown(inChannel: reaction.channel, ts: reaction.messageTS, in: db) else { return nil }
            let event = ReactionEvent(
                imageID: imageID, rater: reaction.rater, rating: reaction.rating, added: reaction.added, eventTime: reaction.eventTime
            )
            return try vote(for: event, source: .slackReaction, in: db)
        case .toggle(let imageID, let rater, let rating, let occurredAt):
            guard try ImageRecord.exists(db, key: imageID) else { return nil }
            let current = try currentRating(of: imageID, by: rater, in: db)
            return VoteCommand(
                imageID: imageID, rater: rater, choice: current == rating ? .none : VoteChoice(rating), source: .slackButton, occurredAt: occurredAt
            )
        }
    }
}
