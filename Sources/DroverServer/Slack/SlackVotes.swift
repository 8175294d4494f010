import DroverCore
import DroverSlack
import DroverStore
import Foundation
import GRDB

/// A 👍 / 👎 reaction added or removed on one of Drover's image messages.
///
/// Adding sets the rater's rating; removing takes back only that rating — 👍 then 👎 ends at 👎,
/// and removing the 👍 afterwards leaves the 👎. Reactions on other messages change nothing.
struct ReactionVotes: VoteSource {
    static let kind = "slack-reaction"
    var kind: String { Self.kind }

    let pseudonymizer: RaterPseudonymizer

    func decision(for item: InboxItem) throws -> VoteDecision {
        let change = try JSONDecoder().decode(ReactionChange.self, from: item.payload)
        let rater = pseudonymizer.pseudonym(team: change.teamID, user: change.user)
        return { db in
            guard let imageID = try Ledger.imageShown(inChannel: change.channel, ts: change.messageTS, in: db) else { return nil }
            return VoteCommand(
                imageID: imageID, rater: rater, choice: change.added ? VoteChoice(change.rating) : .none,
                source: "slack-reaction", occurredAt: Date(), onlyIfCurrent: change.added ? nil : change.rating
            )
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
