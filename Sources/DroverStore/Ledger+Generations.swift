import DroverCore
import FoundationEssentials
import GRDB

/// An image as the page lists it: what was asked and how it is rated now.
public struct ImageSummary: Codable, Sendable, FetchableRecord {
    public var id: ImageID
    /// The request it was made for; never its model version's generation, which would tell
    /// images of one version apart from the others of a mixed request.
    public var requestID: String
    public var prompt: String
    public var createdAt: Date
    public var approvals: Int
    public var disapprovals: Int
}

extension Ledger {
    /// Stores a request's generations (one per model version its images were assigned) and their
    /// images in one transaction.
    ///
    /// Images are content-addressed: an image whose bytes are already stored (the same prompt and
    /// seed made again) is kept as it was and its id returned. Recording a generation id again
    /// (a retried request) keeps the first record.
    /// - Returns: the ids of the images, in order.
    @discardableResult
    public func record(_ generations: [GenerationRecord], images: [ImageRecord]) throws -> [ImageID] {
        try database.write { db in
            for generation in generations {
                try generation.insert(db, onConflict: .ignore)
            }
            for image in images {
                try image.insert(db, onConflict: .ignore)
            }
            return images.map(\.id)
        }
    }

    /// Whether an image with this id is stored.
    public func containsImage(_ id: ImageID) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM image WHERE id = ?)"), arguments: [id]) ?? false
        }
    }

    /// The PNG bytes of an image, if stored.
    public func png(of id: ImageID) throws -> Data? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT png FROM image WHERE id = ?", arguments: [id])
        }
    }

    /// The newest images with their current tallies, newest first.
    public func recentImages(limit: Int) throws -> [ImageSummary] {
        try database.read { db in
            try ImageSummary.fetchAll(db, sql: """
                SELECT image.id, COALESCE(generation.requestID, generation.id) AS requestID, generation.prompt, image.createdAt,
                       (SELECT COUNT(*) FROM vote WHERE vote.imageID = image.id AND rating = 'Approve') AS approvals,
                       (SELECT COUNT(*) FROM vote WHERE vote.imageID = image.id AND rating = 'Disapprove') AS disapprovals
                FROM image JOIN generation ON generation.id = image.generationID
                ORDER BY image.rowid DESC, image.position
                LIMIT ?
                """, arguments: [limit])
        }
    }
}
