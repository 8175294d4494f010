import DroverCore
import FoundationEssentials
import GRDB

/// A rater's request to rate an image (or take their rating back).
public struct VoteCommand: Codable, Sendable, Equatable {
    public var imageID: ImageID
    /// The rater's pseudonym.
    public var rater: String
    public var choice: VoteChoice
    /// Where it came from.
    public var source: VoteSource
    public var occurredAt: Date
    /// Apply only if the rater's current rating is this one (removing a 👍 reaction retracts a
    /// 👍, never the 👎 that replaced it); `nil` applies unconditionally.
    public var onlyIfCurrent: Rating?

    public init(imageID: ImageID, rater: String, choice: VoteChoice, source: VoteSource, occurredAt: Date, onlyIfCurrent: Rating? = nil) {
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
    /// Applies votes in one transaction (see ``apply(_:in:)``): for imports and tools that have
    /// votes at hand rather than in the inbox.
    /// - Returns: the events recorded, for the votes that changed something.
    @discardableResult
    public func apply(_ commands: [VoteCommand]) async throws -> [VoteEventRecord] {
        try await database.write { db in try commands.compactMap { try Self.apply($0, in: db) } }
    }

    /// Applies a vote inside `db`'s transaction: one active rating per rater × image, a new
    /// rating replaces the old one, `none` retracts it. Every change is kept as an event.
    /// - Returns: the event recorded, or `nil` when the vote changes nothing (the same rating
    ///   again, or a retraction with nothing to retract).
    /// - Throws: ``LedgerError/unknownImage(_:)`` if the image is not stored.
    static func apply(_ command: VoteCommand, in db: Database) throws -> VoteEventRecord? {
        // Cached statements: this runs once per vote, on the path every vote takes.
        let imageExists = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM image WHERE id = ?)"), arguments: [command.imageID]
        ) ?? false
        guard imageExists else { throw LedgerError.unknownImage(command.imageID) }
        let current = try currentRating(of: command.imageID, by: command.rater, in: db)
        if let required = command.onlyIfCurrent, current != required { return nil }
        let newRating = command.choice.rating
        guard current != newRating else { return nil }
        try db.cachedStatement(sql: """
            INSERT INTO voteEvent (imageID, rater, rating, previousRating, source, occurredAt) VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [command.imageID, command.rater, newRating, current, command.source, command.occurredAt])
        let event = VoteEventRecord(
            id: db.lastInsertedRowID, imageID: command.imageID, rater: command.rater, rating: newRating, previousRating: current,
            source: command.source, occurredAt: command.occurredAt, commitSHA: nil
        )
        if let newRating {
            try db.cachedStatement(sql: """
                INSERT INTO vote (imageID, rater, rating, eventID, updatedAt) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (imageID, rater) DO UPDATE SET rating = excluded.rating, eventID = excluded.eventID, updatedAt = excluded.updatedAt
                """).execute(arguments: [command.imageID, command.rater, newRating, event.id, command.occurredAt])
        } else {
            try db.cachedStatement(sql: "DELETE FROM vote WHERE imageID = ? AND rater = ?").execute(arguments: [command.imageID, command.rater])
        }
        return event
    }

    /// A rater's active rating of an image, inside `db`'s transaction.
    static func currentRating(of imageID: ImageID, by rater: String, in db: Database) throws -> Rating? {
        try Rating.fetchOne(db.cachedStatement(sql: "SELECT rating FROM vote WHERE imageID = ? AND rater = ?"), arguments: [imageID, rater])
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
