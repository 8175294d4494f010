import DroverCore
import FoundationEssentials
import GRDB

/// An image the dataset must hold, with the generation that made it.
public struct ImageChange: Sendable {
    public var image: ImageRecord
    public var generation: GenerationRecord
}

/// A vote event the dataset must reflect, with what its training row needs.
public struct VoteChange: Sendable {
    public var event: VoteEventRecord
    public var prompt: String
    public var modelVersion: String
}

/// Changes recorded in the ledger that the dataset does not hold yet, oldest first.
public struct PendingChanges: Sendable {
    public var images: [ImageChange]
    public var votes: [VoteChange]
    public var isEmpty: Bool { images.isEmpty && votes.isEmpty }
    public var count: Int { images.count + votes.count }
}

extension Ledger {
    /// Up to `limit` changes not yet committed to the dataset: images first (a vote's image is
    /// always recorded before the vote), each kind oldest first.
    public func pendingChanges(limit: Int) throws -> PendingChanges {
        try database.read { db in
            let images = try Self.imageChanges(db, filter: "image.commitSHA IS NULL", limit: limit)
            let votes = try Self.voteChanges(db, filter: "voteEvent.commitSHA IS NULL", limit: limit - images.count)
            return PendingChanges(images: images, votes: votes)
        }
    }

    /// Every vote event the dataset holds, oldest first: the history that `train.csv` is built from.
    public func committedVoteChanges() throws -> [VoteChange] {
        try database.read { db in try Self.voteChanges(db, filter: "voteEvent.commitSHA IS NOT NULL", limit: nil) }
    }

    /// Records that `commitSHA` holds these changes.
    /// - Parameter isLastCommit: also record it as the committer's last commit (``lastCommit()``):
    ///   one made, or checked, from rows that agree with every vote event the ledger records as
    ///   committed. A commit found at start whose record a crash prevented is not: its rows are
    ///   checked first.
    public func markCommitted(images: [ImageID], voteEvents: [Int64], commitSHA: String, isLastCommit: Bool = false) throws {
        try database.write { db in
            try ImageRecord.filter(keys: images).updateAll(db, Column("commitSHA").set(to: commitSHA))
            try VoteEventRecord.filter(keys: voteEvents).updateAll(db, Column("commitSHA").set(to: commitSHA))
            if isLastCommit {
                try db.execute(sql: """
                    INSERT INTO committerState (id, lastCommit) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET lastCommit = excluded.lastCommit
                    """, arguments: [commitSHA])
            }
        }
    }

    /// The commit ``markCommitted(images:voteEvents:commitSHA:isLastCommit:)`` recorded as the last one. When the
    /// dataset's HEAD is still this commit, its rows agree with the ledger and need no checking
    /// at start.
    public func lastCommit() throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT lastCommit FROM committerState WHERE id = 1") }
    }

    private static func imageChanges(_ db: Database, filter: String, limit: Int) throws -> [ImageChange] {
        guard limit > 0 else { return [] }
        let images = try ImageRecord.fetchAll(db, sql: "SELECT * FROM image WHERE \(filter) ORDER BY rowid LIMIT ?", arguments: [limit])
        let generations = try GenerationRecord.fetchAll(db, keys: Set(images.map(\.generationID)))
        let byID = Dictionary(uniqueKeysWithValues: generations.map { ($0.id, $0) })
        return images.compactMap { image in byID[image.generationID].map { ImageChange(image: image, generation: $0) } }
    }

    private static func voteChanges(_ db: Database, filter: String, limit: Int?) throws -> [VoteChange] {
        if let limit, limit <= 0 { return [] }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT voteEvent.*, generation.prompt AS prompt, generation.modelVersion AS modelVersion
            FROM voteEvent
            JOIN image ON image.id = voteEvent.imageID
            JOIN generation ON generation.id = image.generationID
            WHERE \(filter)
            ORDER BY voteEvent.id
            LIMIT ?
            """, arguments: [limit ?? -1])
        var changes: [VoteChange] = []
        while let row = try rows.next() {
            changes.append(VoteChange(event: try VoteEventRecord(row: row), prompt: row["prompt"], modelVersion: row["modelVersion"]))
        }
        return changes
    }
}
