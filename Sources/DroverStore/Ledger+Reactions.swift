import DroverCore
import FoundationEssentials
import GRDB

/// A 👍 or 👎 reaction added to or removed from an image message by a rater.
public struct ReactionEvent: Sendable, Equatable {
    public var imageID: ImageID
    public var rater: String
    public var rating: Rating
    public var added: Bool
    /// When it happened (Slack's `event_ts`), in microseconds since 1970: what orders events
    /// that arrive out of order.
    public var eventTime: Int64

    public init(imageID: ImageID, rater: String, rating: Rating, added: Bool, eventTime: Int64) {
        self.imageID = imageID
        self.rater = rater
        self.rating = rating
        self.added = added
        self.eventTime = eventTime
    }
}

extension Ledger {
    /// Records a reaction event inside `db`'s transaction and returns the vote it makes, such
    /// that the rater's rating ends the same whatever order the events arrive in (Slack delivers
    /// them unordered): the rating of their newest reaction still present, or none.
    ///
    /// - An event older than the last one seen for the same reaction changes nothing.
    /// - Adding sets the rating, unless the rater's other reaction is present and newer.
    /// - Removing takes back only the rating it names (👍 then 👎 ends at 👎, and removing the
    ///   👍 afterwards leaves the 👎); if the rater's other reaction is still present, the
    ///   rating becomes that one.
    /// - Returns: the vote to apply, or `nil` for none.
    static func vote(for event: ReactionEvent, source: VoteSource, at now: Date = Date(), in db: Database) throws -> VoteCommand? {
        let states = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT rating, present, eventTime FROM reactionState WHERE imageID = ? AND rater = ?"),
            arguments: [event.imageID, event.rater]
        )
        func state(_ rating: Rating) -> (present: Bool, eventTime: Int64)? {
            states.first { $0["rating"] == rating }.map { ($0["present"], $0["eventTime"]) }
        }
        if let seen = state(event.rating), seen.eventTime >= event.eventTime { return nil }
        try db.cachedStatement(sql: """
            INSERT INTO reactionState (imageID, rater, rating, present, eventTime) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (imageID, rater, rating) DO UPDATE SET present = excluded.present, eventTime = excluded.eventTime
            """).execute(arguments: [event.imageID, event.rater, event.rating, event.added, event.eventTime])
        let otherRating: Rating = event.rating == .approve ? .disapprove : .approve
        let other = state(otherRating).flatMap { $0.present ? $0 : nil }
        if event.added {
            if let other, other.eventTime > event.eventTime { return nil }
            return VoteCommand(imageID: event.imageID, rater: event.rater, choice: VoteChoice(event.rating), source: source, occurredAt: now)
        }
        return VoteCommand(
            imageID: event.imageID, rater: event.rater, choice: other == nil ? .none : VoteChoice(otherRating), source: source,
            occurredAt: now, onlyIfCurrent: event.rating
        )
    }
}
