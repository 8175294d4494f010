import DroverCore
import FoundationEssentials
import GRDB

/// A rater's request to rate an image (or take their rating back).
public struct VoteCommand: Codable, Sendable, Equatable {
    public var imageID: ImageID
    /// The rater's pseudonym.
    public var rater: String
    public var choice: VoteChoice
    /// Where it came from: `web`, `slack-reaction`, `slack-button`, ….
    public var source: String
    public var occurredAt: Date
    /// Apply only if the rater's current rating is this one (removing a 👍 reaction retracts a
    /// 👍, never the 👎 that replaced it); `nil` applies unconditionally.
    public var onlyIfCurrent: Rating?

    public init(imageID: ImageID, rater: String, choice: VoteChoice, source: String, occurredAt: Date, onlyIfCurrent: Rating? = nil) {
        self.imageID = imageID
        self.rater = rater
        self.choice = choice
        self.source = source
        self.occurredAt = occurredAt
        self.onlyIfCurrent = onlyIfCurrent
    }
}

/// Why the ledger refused a write.
public enum LedgerError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownImage(ImageID)

    public var description: String {
        switch self {
        case .unknownImage(let id): "no image \(id)"
        }
    }
}

extension Ledger {
    /// Applies a vote inside `db`'s transaction: one active rating per rater × image, a new
    /// rating replaces the old one, `none` retracts it. Every change is kept as an event.
    /// - Returns: the event recorded, or `nil` when the vote changes nothing (the same rating
    ///   again, or a retraction with nothing to retract).
    /// - Throws: ``LedgerError/unknownImage(_:)`` if the image is not stored.
    public static func apply(_ command: VoteCommand, in db: Database) throws -> VoteEventRecord? {
        guard try ImageRecord.exists(db, key: command.imageID) else { throw LedgerError.unknownImage(command.imageID) }
        let current = try VoteRecord.fetchOne(db, key: ["imageID": command.imageID.rawValue, "rater": command.rater])
        if let required = command.onlyIfCurrent, current?.rating != required { return nil }
        let newRating = command.choice.rating
        guard current?.rating != newRating else { return nil }
        var event = VoteEventRecord(
            id: nil, imageID: command.imageID, rater: command.rater, rating: newRating, previousRating: current?.rating,
            source: command.source, occurredAt: command.occurredAt, commitSHA: nil
        )
        try event.insert(db)
        if let newRating, let eventID = event.id {
            try VoteRecord(imageID: command.imageID, rater: command.rater, rating: newRating, eventID: eventID, updatedAt: command.occurredAt)
                .upsert(db)
        } else {
            _ = try current?.delete(db)
        }
        return event
    }

    /// A rater's active rating of an image, inside `db`'s transaction.
    public static func currentRating(of imageID: ImageID, by rater: String, in db: Database) throws -> Rating? {
        try VoteRecord.fetchOne(db, key: ["imageID": imageID.rawValue, "rater": rater])?.rating
    }

    /// An image's active 👍 and 👎 counts.
    public func tallies(of imageID: ImageID) throws -> (approvals: Int, disapprovals: Int) {
        try database.read { db in
            let approvals = try VoteRecord.filter(Column("imageID") == imageID && Column("rating") == Rating.approve).fetchCount(db)
            let disapprovals = try VoteRecord.filter(Column("imageID") == imageID && Column("rating") == Rating.disapprove).fetchCount(db)
            return (approvals, disapprovals)
        }
    }

    /// The active ratings of an image, by rater.
    public func votes(on imageID: ImageID) throws -> [VoteRecord] {
        try database.read { db in
            try VoteRecord.filter(Column("imageID") == imageID).order(Column("rater")).fetchAll(db)
        }
    }

    /// Every vote event, oldest first.
    public func voteEvents() throws -> [VoteEventRecord] {
        try database.read { db in try VoteEventRecord.order(Column("id")).fetchAll(db) }
    }
}
