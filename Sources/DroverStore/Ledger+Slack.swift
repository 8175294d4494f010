import DroverCore
import FoundationEssentials
import GRDB

/// A Slack message that shows one image: reactions on it are votes on that image.
public struct SlackMessageRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "slackMessage"
    public var channel: String
    public var ts: String
    public var imageID: ImageID
    public var teamID: String
    public var fileID: String
    public var postedAt: Date

    public init(channel: String, ts: String, imageID: ImageID, teamID: String, fileID: String, postedAt: Date) {
        self.channel = channel
        self.ts = ts
        self.imageID = imageID
        self.teamID = teamID
        self.fileID = fileID
        self.postedAt = postedAt
    }
}

extension Ledger {
    /// Records that a message shows an image.
    public func record(_ message: SlackMessageRecord) throws {
        try database.write { db in try message.insert(db, onConflict: .replace) }
    }

    /// The image a Slack message shows, inside `db`'s transaction; `nil` for a message that is
    /// not one of Drover's image messages.
    static func imageShown(inChannel channel: String, ts: String, in db: Database) throws -> ImageID? {
        try ImageID.fetchOne(db.cachedStatement(sql: "SELECT imageID FROM slackMessage WHERE channel = ? AND ts = ?"), arguments: [channel, ts])
    }

    /// The messages that show an image.
    public func slackMessages(showing imageID: ImageID) throws -> [SlackMessageRecord] {
        try database.read { db in try SlackMessageRecord.filter(Column("imageID") == imageID).fetchAll(db) }
    }

    /// Whether an image was already posted to a channel (a command retried after a crash).
    public func isPosted(_ imageID: ImageID, to channel: String) throws -> Bool {
        try database.read { db in
            try SlackMessageRecord.filter(Column("imageID") == imageID && Column("channel") == channel).fetchCount(db) > 0
        }
    }

    /// What a message about an image shows besides the picture: its prompt and seed.
    public func imageDetails(_ imageID: ImageID) throws -> (prompt: String, seed: UInt32?)? {
        try database.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT generation.prompt, image.seed FROM image JOIN generation ON generation.id = image.generationID
                WHERE image.id = ?
                """, arguments: [imageID])
            return row.map { ($0["prompt"], $0["seed"]) }
        }
    }
}
