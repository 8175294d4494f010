import FoundationEssentials
import GRDB

/// A dataset commit mirrored to an Oxen branch: one row per Oxen commit the mirror made (or
/// per range of commits that changed no file).
public struct OxenMirrorRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "oxenMirror"
    public var id: Int64?
    /// `host/namespace/name#branch`: the ledger may outlive a change of repository.
    public var target: String
    /// The newest dataset commit the Oxen commit holds.
    public var gitCommit: String
    /// The Oxen commit; `nil` when the dataset commits changed no file and nothing was sent.
    public var oxenCommit: String?
    /// How many dataset commits it covers (more than one when the mirror caught up).
    public var gitCommits: Int
    public var mirroredAt: Date

    public init(target: String, gitCommit: String, oxenCommit: String?, gitCommits: Int, mirroredAt: Date = Date()) {
        self.target = target
        self.gitCommit = gitCommit
        self.oxenCommit = oxenCommit
        self.gitCommits = gitCommits
        self.mirroredAt = mirroredAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension Ledger {
    /// The newest mirror record of `target`: where the mirror resumes.
    public func lastOxenMirror(target: String) throws -> OxenMirrorRecord? {
        try database.read { db in
            try OxenMirrorRecord.filter(Column("target") == target).order(Column("id").desc).fetchOne(db)
        }
    }

    /// Records that `record.gitCommit` has been mirrored. Recording the same dataset commit twice
    /// for one target changes nothing (after a crash, the mirror may find out twice what landed).
    public func recordOxenMirror(_ record: OxenMirrorRecord) throws {
        try database.write { db in
            try record.insert(db, onConflict: .ignore)
        }
    }

    /// Every Oxen commit recorded for `target`, oldest first.
    public func oxenMirrors(target: String) throws -> [OxenMirrorRecord] {
        try database.read { db in
            try OxenMirrorRecord.filter(Column("target") == target).order(Column("id")).fetchAll(db)
        }
    }
}
