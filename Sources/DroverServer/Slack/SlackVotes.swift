import DroverCore
import DroverSlack
import DroverStore
import Foundation
import GRDB

/// A 👍 / 👎 reaction added or removed on one of Drover's image messages, ordered by its
/// `event_ts` (``Ledger/vote(for:source:at:in:)``): Slack delivers events unordered. Reactions on
/// other messages change nothing.
struct ReactionVotes: VoteSource {
    static let kind = "slack-reaction"
    var kind: String { Self.kind }

    let pseudonymizer: RaterPseudonymizer

    func decision(for item: InboxItem) throws -> VoteDecision {
        decision(for: try ReactionChange(payload: item.payload), receivedAt: item.receivedAt)
    }

    /// The decision for a reaction that arrived at `receivedAt`.
    func decision(for change: ReactionChange, receivedAt: Date) -> VoteDecision {
        // Without an event_ts (Slack always sends one), the event counts as happening when it arrived.
        let eventTime = change.eventTime ?? Int64(receivedAt.timeIntervalSince1970 * 1_000_000)
        return { db in
            // Most reactions in a channel are on other messages: those cost one lookup, no pseudonym.
            guard let imageID = try Ledger.imageShown(inChannel: change.channel, ts: change.messageTS, in: db) else { return nil }
            let rater = pseudonymizer.pseudonym(team: change.teamID, user: change.user)
            let event = ReactionEvent(imageID: imageID, rater: rater, rating: change.rating, added: change.added, eventTime: eventTime)
            return try Ledger.vote(for: event, source: "slack-reaction", in: db)
        }
    }
}

/// A click on a vote button: sets the rating, or takes it back when it is the rater's current one.
struct ButtonVotes: VoteSource {
    static let kind = "slack-button"
    var kind: String { Self.kind }

    let pseudonymizer: RaterPseudonymizer

    func decision(for item: InboxItem) throws -> VoteDecision {
        let click = try JSONDecoder().decode(ButtonVote.self, from: item.payload)
        let rater = pseudonymizer.pseudonym(team: click.teamID, user: click.user)
        return { db in
            guard try ImageRecord.exists(db, key: click.imageID) else { return nil }
            let current = try Ledger.currentRating(of: click.imageID, by: rater, in: db)
            return VoteCommand(
                imageID: click.imageID, rater: rater, choice: current == click.rating ? .none : VoteChoice(click.rating),
                source: "slack-button", occurredAt: Date()
            )
        }
    }
}
