import DroverCore
import FoundationEssentials
import GRDB

/// Changes recorded together for one reason — a revert or an import — which the committer
/// commits together under a subject that says why.
public struct ChangeSetRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "changeSet"

    /// What made the change set.
    public enum Kind: String, Codable, Sendable, DatabaseValueConvertible {
        case revert, `import`
    }

    public var id: Int64?
    public var kind: Kind
    /// What it covers: for a revert, the selection (`by rater ab12…`); for an import, the file name.
    public var scope: String
    /// Why (a revert's reason, required for reverts).
    public var reason: String?
    public var createdAt: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// Which active votes a revert takes out.
public enum RevertSelection: Sendable, Equatable, CustomStringConvertible {
    /// The votes these events set, where they are still active.
    case voteEvents([Int64])
    /// The votes a dataset commit (full hash) set, where they are still active.
    case commit(String)
    /// Every active vote of a rater (the pseudonym in `train.csv`).
    case rater(String)
    /// Every active vote set at or after a time.
    case since(Date)

    /// How a commit subject names the selection.
    public var description: String {
        switch self {
        case .voteEvents(let ids): ids.count == 1 ? "of event \(ids[0])" : "of events \(ids.map(String.init).joined(separator: ", "))"
        case .commit(let sha): "from commit \(sha.prefix(10))"
        case .rater(let rater): "by rater \(rater)"
        case .since(let date): "since \(Timestamp.iso8601(date))"
        }
    }
}

/// A row to import, its image resolved.
public struct ImportedVote: Sendable {
    /// Where the image comes from.
    public enum Image: Sendable {
        /// An image the ledger holds.
        case existing(ImageID)
        /// PNG bytes to add, with the picture's size.
        case new(png: Data, width: Int, height: Int)
    }

    /// The row as read; its `path` is no longer used.
    public var row: SeedRow
    public var image: Image
    /// The row's `voted_at`, or the time of the import.
    public var votedAt: Date

    public init(row: SeedRow, image: Image, votedAt: Date) {
        self.row = row
        self.image = image
        self.votedAt = votedAt
    }
}

/// What an import or a revert recorded.
public struct ChangeSetResult: Sendable {
    public var changeSet: ChangeSetRecord
    /// Images added to the ledger.
    public var images: [ImageID]
    /// Vote events recorded (votes that changed nothing record none).
    public var voteEvents: [VoteEventRecord]
}

/// Why a revert or an import was refused; nothing was written.
public enum ChangeSetError: Error, Equatable, Sendable, CustomStringConvertible {
    case nothingToRevert(String)
    case unknownVoteEvents([Int64])
    case emptyReason
    case unknownImage(ImageID)

    public var description: String {
        switch self {
        case .nothingToRevert(let scope): "no active vote \(scope): nothing to revert"
        case .unknownVoteEvents(let ids): "no vote event \(ids.map(String.init).joined(separator: ", "))"
        case .emptyReason: "a revert needs a reason"
        case .unknownImage(let id): "no image \(id) in this dataset"
        }
    }
}

extension PendingChanges {
    /// Changes to commit together: images first, then votes.
    public init(_ images: [ImageChange], _ votes: [VoteChange]) {
        self.images = images
        self.votes = votes
    }
}

extension Ledger {
    /// Takes out the active votes `selection` names, in one transaction: each becomes a
    /// retraction event with source `revert`, all in one change set carrying `reason`.
    /// - Throws: ``ChangeSetError`` when the reason is empty, an event does not exist, or no
    ///   active vote is selected.
    public func revert(_ selection: RevertSelection, reason: String, at now: Date = Date()) throws -> ChangeSetResult {
        let reason = reason.trimmingWhitespace()
        guard !reason.isEmpty else { throw ChangeSetError.emptyReason }
        return try database.write { db in
            let votes = try Self.activeVotes(selection, in: db)
            guard !votes.isEmpty else { throw ChangeSetError.nothingToRevert(selection.description) }
            var changeSet = ChangeSetRecord(kind: .revert, scope: selection.description, reason: reason, createdAt: now)
            try changeSet.insert(db)
            var events: [VoteEventRecord] = []
            for vote in votes {
                let command = VoteCommand(imageID: vote.imageID, rater: vote.rater, choice: .none, source: .revert, occurredAt: now)
                if let event = try Self.apply(command, in: db) {
                    try Self.link(event, to: changeSet, in: db)
                    events.append(event)
                }
            }
            return ChangeSetResult(changeSet: changeSet, images: [], voteEvents: events)
        }
    }

    /// Records imported votes, and the images they bring, in one transaction and one change set.
    /// New images get a generation per prompt and model version, backend `external`.
    /// - Parameter scope: where the votes come from (the file's name).
    /// - Throws: ``ChangeSetError/unknownImage(_:)`` for a vote on an image the ledger lacks.
    public func importVotes(_ votes: [ImportedVote], scope: String, at now: Date = Date()) throws -> ChangeSetResult {
        try database.write { db in
            var changeSet = ChangeSetRecord(kind: .import, scope: scope, reason: nil, createdAt: now)
            try changeSet.insert(db)
            let changeSetID = changeSet.id ?? 0
            var generations: [String: GenerationRecord] = [:]
            var images: [ImageID] = []
            var events: [VoteEventRecord] = []
            for vote in votes {
                let imageID: ImageID
                switch vote.image {
                case .existing(let id):
                    guard try ImageRecord.exists(db, key: id) else { throw ChangeSetError.unknownImage(id) }
                    imageID = id
                case .new(let png, let width, let height):
                    imageID = ImageID(pngBytes: png)
                    if try !ImageRecord.exists(db, key: imageID) {
                        let row = vote.row
                        let key = "\(row.modelVersion)\u{1f}\(width)x\(height)\u{1f}\(row.prompt)"
                        let generation = try generations[key] ?? {
                            let generation = GenerationRecord(
                                id: "import-\(changeSetID)-\(generations.count + 1)", prompt: row.prompt, negativePrompt: nil, steps: nil,
                                guidanceScale: nil, width: width, height: height, model: "external", modelVersion: row.modelVersion,
                                backend: "external", requestedBy: "import", createdAt: now
                            )
                            try generation.insert(db)
                            return generation
                        }()
                        generations[key] = generation
                        let position = try ImageRecord.filter(Column("generationID") == generation.id).fetchCount(db)
                        try ImageRecord(id: imageID, generationID: generation.id, position: position, seed: nil, png: png, postedTo: nil, createdAt: now)
                            .insert(db)
                        try db.execute(sql: "INSERT INTO changeSetImage (imageID, changeSetID) VALUES (?, ?)", arguments: [imageID, changeSetID])
                        images.append(imageID)
                    }
                }
                let command = VoteCommand(imageID: imageID, rater: vote.row.rater, choice: VoteChoice(vote.row.rating), source: .import, occurredAt: vote.votedAt)
                if let event = try Self.apply(command, in: db) {
                    try Self.link(event, to: changeSet, in: db)
                    events.append(event)
                }
            }
            return ChangeSetResult(changeSet: changeSet, images: images, voteEvents: events)
        }
    }

    /// The change sets that hold these changes, for the ones that belong to one.
    public func changeSets(voteEvents: [Int64], images: [ImageID]) throws -> (voteEvents: [Int64: ChangeSetRecord], images: [ImageID: ChangeSetRecord]) {
        guard !voteEvents.isEmpty || !images.isEmpty else { return ([:], [:]) }
        return try database.read { db in
            var sets: [Int64: ChangeSetRecord] = [:]
            func changeSet(_ id: Int64) throws -> ChangeSetRecord? {
                if let known = sets[id] { return known }
                sets[id] = try ChangeSetRecord.fetchOne(db, key: id)
                return sets[id]
            }
            var byEvent: [Int64: ChangeSetRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT voteEventID, changeSetID FROM changeSetVoteEvent WHERE voteEventID IN (\(Self.placeholders(voteEvents.count)))", arguments: StatementArguments(voteEvents)) {
                byEvent[row["voteEventID"]] = try changeSet(row["changeSetID"])
            }
            var byImage: [ImageID: ChangeSetRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT imageID, changeSetID FROM changeSetImage WHERE imageID IN (\(Self.placeholders(images.count)))", arguments: StatementArguments(images.map(\.rawValue))) {
                byImage[row["imageID"]] = try changeSet(row["changeSetID"])
            }
            return (byEvent, byImage)
        }
    }

    /// Whether a vote event with this id exists.
    public func containsVoteEvent(_ id: Int64) throws -> Bool {
        try database.read { db in try VoteEventRecord.exists(db, key: id) }
    }

    /// The commits that hold a change set, once all of its changes are committed; `nil` before.
    public func commits(of changeSetID: Int64) throws -> [String]? {
        try database.read { db in
            let shas = try Row.fetchAll(db, sql: """
                SELECT voteEvent.commitSHA AS sha FROM changeSetVoteEvent JOIN voteEvent ON voteEvent.id = changeSetVoteEvent.voteEventID
                WHERE changeSetVoteEvent.changeSetID = ?1
                UNION ALL
                SELECT image.commitSHA FROM changeSetImage JOIN image ON image.id = changeSetImage.imageID
                WHERE changeSetImage.changeSetID = ?1
                """, arguments: [changeSetID]).map { $0["sha"] as String? }
            guard shas.allSatisfy({ $0 != nil }) else { return nil }
            return Array(Set(shas.compactMap { $0 })).sorted()
        }
    }

    private static func activeVotes(_ selection: RevertSelection, in db: Database) throws -> [VoteRecord] {
        let request: QueryInterfaceRequest<VoteRecord>
        switch selection {
        case .voteEvents(let ids):
            let known = try VoteEventRecord.filter(keys: ids).select(Column("id"), as: Int64.self).fetchSet(db)
            let unknown = ids.filter { !known.contains($0) }
            guard unknown.isEmpty else { throw ChangeSetError.unknownVoteEvents(unknown) }
            request = VoteRecord.filter(ids.contains(Column("eventID")))
        case .commit(let sha):
            request = VoteRecord.filter(sql: "eventID IN (SELECT id FROM voteEvent WHERE commitSHA = ?)", arguments: [sha])
        case .rater(let rater):
            request = VoteRecord.filter(Column("rater") == rater)
        case .since(let date):
            request = VoteRecord.filter(Column("updatedAt") >= date)
        }
        return try request.order(Column("eventID")).fetchAll(db)
    }

    private static func link(_ event: VoteEventRecord, to changeSet: ChangeSetRecord, in db: Database) throws {
        try db.execute(sql: "INSERT INTO changeSetVoteEvent (voteEventID, changeSetID) VALUES (?, ?)", arguments: [event.id, changeSet.id])
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }
}
