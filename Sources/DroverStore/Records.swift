import DroverCore
import FoundationEssentials
import GRDB

/// A request for generation: the settings shared by its images.
public struct GenerationRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "generation"
    public var id: String
    public var prompt: String
    public var negativePrompt: String?
    public var steps: Int?
    public var guidanceScale: Double?
    public var width: Int
    public var height: Int
    public var model: String
    public var modelVersion: String
    public var backend: String
    /// Who asked, as a pseudonym (or `web`).
    public var requestedBy: String
    public var createdAt: Date
    /// The request this generation is part of: one generation per model version the request's
    /// images were assigned. `nil` before versions were assigned, and for imported images.
    public var requestID: String?
    /// How the version was decided; `nil` when it was not (older, imported or collected images).
    public var assignment: Assignment?

    public init(
        id: String, prompt: String, negativePrompt: String?, steps: Int?, guidanceScale: Double?, width: Int, height: Int,
        model: String, modelVersion: String, backend: String, requestedBy: String, createdAt: Date,
        requestID: String? = nil, assignment: Assignment? = nil
    ) {
        self.id = id
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.width = width
        self.height = height
        self.model = model
        self.modelVersion = modelVersion
        self.backend = backend
        self.requestedBy = requestedBy
        self.createdAt = createdAt
        self.requestID = requestID
        self.assignment = assignment
    }
}

/// One generated image, its bytes, and the dataset commit that holds it once committed.
public struct ImageRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "image"
    public var id: ImageID
    public var generationID: String
    public var position: Int
    public var seed: UInt32?
    public var png: Data
    public var postedTo: String?
    public var createdAt: Date
    public var commitSHA: String?
    /// The number in [0, 1) that drew its model version (``BlindAssignment``), when one was drawn.
    public var assignmentDraw: Double?

    public init(
        id: ImageID, generationID: String, position: Int, seed: UInt32?, png: Data, postedTo: String?, createdAt: Date,
        assignmentDraw: Double? = nil
    ) {
        self.id = id
        self.generationID = generationID
        self.position = position
        self.seed = seed
        self.png = png
        self.postedTo = postedTo
        self.createdAt = createdAt
        self.commitSHA = nil
        self.assignmentDraw = assignmentDraw
    }
}

/// One change of one rater's rating of one image: a new rating, a changed one, or a retraction.
public struct VoteEventRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "voteEvent"
    public var id: Int64?
    public var imageID: ImageID
    public var rater: String
    /// The rating after the event; `nil` for a retraction.
    public var rating: Rating?
    public var previousRating: Rating?
    public var source: VoteSource
    public var occurredAt: Date
    public var commitSHA: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A rater's active rating of an image.
public struct VoteRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "vote"
    public var imageID: ImageID
    public var rater: String
    public var rating: Rating
    public var eventID: Int64
    public var updatedAt: Date
}
