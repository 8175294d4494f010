import DroverCore
import FoundationEssentials
import GRDB

/// Which images the dashboard's grid shows, in which order, and which page of them.
public struct ImageQuery: Sendable, Equatable {
    /// How an image is rated now, by its active votes.
    public enum State: String, Sendable, CaseIterable {
        /// No active vote.
        case unrated
        /// Only 👍.
        case approved
        /// Only 👎.
        case disapproved
        /// Both 👍 and 👎.
        case disputed
    }

    /// Where an image came from.
    public enum Source: String, Sendable, CaseIterable {
        /// The web page or the JSON API.
        case web
        /// A slash command, or another bot's image in listener mode.
        case slack
        /// `drover import`.
        case `import`
    }

    /// The grid's orders; each ends with the newest image first.
    public enum Order: String, Sendable, CaseIterable {
        case newest
        /// The most active votes first.
        case mostVotes = "most_votes"
        /// The largest minority first (the 👍 or 👎 there are fewer of), then the most votes.
        case mostDisputed = "most_disputed"
        /// The lowest approval rate first, then the most votes; unrated images last.
        case lowestApproval = "lowest_approval"
    }

    /// The most images one page may hold.
    public static let maxLimit = 100

    /// Only images whose prompt contains this text (case-insensitive for ASCII letters).
    public var text: String?
    public var modelVersion: String?
    public var state: State?
    public var source: Source?
    public var order: Order
    /// Images per page, 1 … ``maxLimit``.
    public var limit: Int
    /// Images skipped before the page.
    public var offset: Int

    public init(
        text: String? = nil, modelVersion: String? = nil, state: State? = nil, source: Source? = nil, order: Order = .newest,
        limit: Int = 24, offset: Int = 0
    ) {
        self.text = text
        self.modelVersion = modelVersion
        self.state = state
        self.source = source
        self.order = order
        self.limit = limit
        self.offset = offset
    }
}

/// An image as the grid shows it. It does not name the model version: raters vote blind.
public struct ImageCard: Sendable, Equatable, FetchableRecord {
    public var id: ImageID
    public var prompt: String
    public var createdAt: Date
    public var approvals: Int
    public var disapprovals: Int

    public init(row: Row) throws {
        id = row["imageID"]
        prompt = row["prompt"]
        createdAt = row["createdAt"]
        approvals = row["approvals"]
        disapprovals = row["disapprovals"]
    }
}

/// One page of the grid.
public struct ImagePage: Sendable, Equatable {
    public var images: [ImageCard]
    /// The offset of the next page; `nil` on the last one.
    public var nextOffset: Int?
}

/// Everything the ledger knows about one image: where it came from, how it is rated, and every
/// vote event on it.
public struct ImageDetail: Sendable {
    public var provenance: ImageProvenance
    public var approvals: Int
    public var disapprovals: Int
    /// The commit that added the image to the dataset; `nil` until it is committed.
    public var commitSHA: String?
    /// Every vote event on the image, oldest first.
    public var events: [VoteEventRecord]
}

/// Active 👍 and 👎 cast on one day (UTC).
public struct DailyVotes: Sendable, Equatable {
    /// `YYYY-MM-DD`.
    public var day: String
    public var approvals: Int
    public var disapprovals: Int
}

/// One rater's active votes and how often they side with the other raters.
public struct RaterSummary: Sendable, Equatable {
    public var rater: String
    /// Active votes.
    public var votes: Int
    public var approvals: Int
    /// Votes on images where the other raters have a majority (more 👍 than 👎, or the reverse).
    public var withMajority: Int
    /// How many of those agree with that majority.
    public var agreeing: Int
    /// The newest of the rater's active votes.
    public var lastVotedAt: Date
}

/// A vote event, with whether the rating it set is still active (and so can be reverted).
public struct CommittedVoteEvent: Sendable {
    public var event: VoteEventRecord
    public var isActive: Bool
}

extension Ledger {
    /// One page of images, filtered and ordered as `query` says, from the `imageTally` table
    /// (indexed per order) rather than the images' rows.
    public func images(_ query: ImageQuery) throws -> ImagePage {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let text = query.text, !text.isEmpty {
            if text.count >= 3 {
                // The trigram index finds the matching generations; the text is one quoted phrase.
                conditions.append("""
                    imageTally.generationID IN (
                        SELECT generation.id FROM generationPrompt JOIN generation ON generation.rowid = generationPrompt.rowid
                        WHERE generationPrompt MATCH ?
                    )
                    """)
                arguments.append("\"" + text.replacing("\"", with: "\"\"") + "\"")
            } else {
                // Too short for trigrams: every prompt is read.
                conditions.append("generation.prompt LIKE ? ESCAPE '\\'")
                arguments.append("%" + Self.likeEscaped(text) + "%")
            }
        }
        if let version = query.modelVersion {
            conditions.append("imageTally.modelVersion = ?")
            arguments.append(version)
        }
        if let source = query.source {
            conditions.append("imageTally.source = ?")
            arguments.append(source.rawValue)
        }
        switch query.state {
        case nil: break
        case .unrated?: conditions.append("imageTally.votes = 0")
        case .approved?: conditions.append("imageTally.approvals > 0 AND imageTally.disapprovals = 0")
        case .disapproved?: conditions.append("imageTally.disapprovals > 0 AND imageTally.approvals = 0")
        case .disputed?: conditions.append("imageTally.disputed > 0")
        }
        let order = switch query.order {
        case .newest: "imageTally.seq DESC"
        case .mostVotes: "imageTally.votes DESC, imageTally.seq DESC"
        case .mostDisputed: "imageTally.disputed DESC, imageTally.votes DESC, imageTally.seq DESC"
        case .lowestApproval: "imageTally.approvalOrder, imageTally.votes DESC, imageTally.seq DESC"
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [query.limit + 1, query.offset]
        let cards = try database.read { db in
            try ImageCard.fetchAll(db, sql: """
                SELECT imageTally.imageID, generation.prompt, imageTally.createdAt, imageTally.approvals, imageTally.disapprovals
                FROM imageTally JOIN generation ON generation.id = imageTally.generationID
                \(filter)
                ORDER BY \(order)
                LIMIT ? OFFSET ?
                """, arguments: StatementArguments(arguments))
        }
        let more = cards.count > query.limit
        return ImagePage(images: Array(cards.prefix(query.limit)), nextOffset: more ? query.offset + query.limit : nil)
    }

    /// An image's provenance, tallies and vote events; `nil` if the ledger has no such image.
    /// - Parameter eventLimit: the most vote events returned (the oldest ones).
    public func imageDetail(_ id: ImageID, eventLimit: Int = 1000) throws -> ImageDetail? {
        try database.read { db in
            // Every column but the PNG bytes, which are not needed here.
            let sql = """
                SELECT id, generationID, position, seed, X'' AS png, postedTo, createdAt, commitSHA, assignmentDraw FROM image WHERE id = ?
                """
            guard let image = try ImageRecord.fetchOne(db, sql: sql, arguments: [id]),
                let generation = try GenerationRecord.fetchOne(db, key: image.generationID),
                let tally = try Row.fetchOne(db, sql: "SELECT approvals, disapprovals FROM imageTally WHERE imageID = ?", arguments: [id])
            else { return nil }
            let events = try VoteEventRecord.filter(Column("imageID") == id).order(Column("id")).limit(eventLimit).fetchAll(db)
            return ImageDetail(
                provenance: ImageProvenance(image: image, generation: generation), approvals: tally["approvals"],
                disapprovals: tally["disapprovals"], commitSHA: image.commitSHA, events: events
            )
        }
    }

    /// 👍 and 👎 cast per day (UTC), from the day of `start` to the day of `end`, oldest first,
    /// days without votes included. A changed rating counts on the day it changed; retractions
    /// count nowhere. Read from the per-day totals (schema v9): one row a day.
    public func dailyVotes(since start: Date, until end: Date = Date()) throws -> [DailyVotes] {
        let counts = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT day, approvals, disapprovals FROM dailyVoteTotal WHERE day >= ?", arguments: [String(Timestamp.iso8601(start).prefix(10))])
        }
        let byDay = Dictionary(counts.map { ($0["day"] as String, (approvals: $0["approvals"] as Int, disapprovals: $0["disapprovals"] as Int)) }) { $1 }
        return Self.days(from: start, to: end).map { day in
            DailyVotes(day: day, approvals: byDay[day]?.approvals ?? 0, disapprovals: byDay[day]?.disapprovals ?? 0)
        }
    }

    /// The model versions, newest first: the one whose first image was recorded last comes first
    /// (versions that share blinded traffic stay in the order they were added). One index
    /// look-up per version.
    public func modelVersionsByRecency() throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: """
                SELECT modelVersion FROM modelVersionTotal WHERE images > 0
                ORDER BY (SELECT min(seq) FROM imageTally WHERE imageTally.modelVersion = modelVersionTotal.modelVersion) DESC
                """)
        }
    }

    /// How many changes (images and vote events) the ledger holds that no commit holds yet.
    public func uncommittedChanges() throws -> Int {
        try database.read { db in
            try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM image WHERE commitSHA IS NULL) + (SELECT COUNT(*) FROM voteEvent WHERE commitSHA IS NULL)
                """) ?? 0
        }
    }

    /// Raters with their active votes, the most votes first, and how often each agrees with
    /// the majority of the *other* raters of the same image (images where those others are
    /// split evenly, or absent, do not count). Read from the totals kept per rater (schema v10):
    /// a page costs the same however many votes there are.
    public func raterSummaries(limit: Int, offset: Int) throws -> [RaterSummary] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT rater, approvals + disapprovals AS votes, approvals, withMajority, agreeing,
                       (SELECT max(updatedAt) FROM vote WHERE vote.rater = raterTotal.rater) AS lastVotedAt
                FROM raterTotal WHERE approvals + disapprovals > 0
                ORDER BY approvals + disapprovals DESC, rater
                LIMIT ? OFFSET ?
                """, arguments: [limit, offset]).map { row in
                RaterSummary(
                    rater: row["rater"], votes: row["votes"], approvals: row["approvals"], withMajority: row["withMajority"],
                    agreeing: row["agreeing"], lastVotedAt: row["lastVotedAt"]
                )
            }
        }
    }

    /// The vote events these commits hold, in event order, each with whether it is still the
    /// active vote.
    public func voteEvents(inCommits shas: [String]) throws -> [CommittedVoteEvent] {
        guard !shas.isEmpty else { return [] }
        return try database.read { db in
            let placeholders = Array(repeating: "?", count: shas.count).joined(separator: ",")
            return try Row.fetchAll(db, sql: """
                SELECT voteEvent.*, EXISTS (
                    SELECT 1 FROM vote WHERE vote.imageID = voteEvent.imageID AND vote.rater = voteEvent.rater AND vote.eventID = voteEvent.id
                ) AS isActive
                FROM voteEvent WHERE commitSHA IN (\(placeholders)) ORDER BY id
                """, arguments: StatementArguments(shas)).map { row in
                CommittedVoteEvent(event: try VoteEventRecord(row: row), isActive: row["isActive"])
            }
        }
    }

    /// The ratings `rater` gives these images now.
    public func ratings(by rater: String, of images: [ImageID]) throws -> [ImageID: Rating] {
        guard !images.isEmpty else { return [:] }
        return try database.read { db in
            let votes = try VoteRecord.filter(Column("rater") == rater && images.contains(Column("imageID"))).fetchAll(db)
            return Dictionary(votes.map { ($0.imageID, $0.rating) }) { $1 }
        }
    }

    /// Each day (UTC, `YYYY-MM-DD`) from `start`'s to `end`'s.
    private static func days(from start: Date, to end: Date) -> [String] {
        func day(_ date: Date) -> String { String(Timestamp.iso8601(date).prefix(10)) }
        let last = day(end)
        return sequence(first: start) { $0 + 86_400 }.lazy.map(day).prefix { $0 <= last }.map { $0 }
    }

    /// `text` with LIKE's wildcards escaped by `\`.
    private static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
