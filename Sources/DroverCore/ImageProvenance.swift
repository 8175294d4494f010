/// Where an image came from: one line of `annotations/images/<shard>/<abc>.jsonl`.
public struct ImageProvenance: Hashable, Codable, Sendable {
    public var id: ImageID
    public var path: String
    public var prompt: String
    public var negativePrompt: String?
    public var seed: UInt32?
    public var steps: Int?
    public var guidanceScale: Double?
    public var width: Int
    public var height: Int
    public var model: String
    public var modelVersion: String
    /// The generator backend: `procedural`, `openai`, `automatic1111`, or `external`.
    public var backend: String
    /// Images made by one request share it.
    public var generationID: String
    /// ISO 8601, UTC.
    public var createdAt: String
    /// Where it was posted (`web`, or a Slack `channel/ts`), if anywhere yet.
    public var postedTo: String?
    /// The request it was made for; a request whose images were assigned several versions has one
    /// generation per version. Absent for images made before versions were assigned.
    public var requestID: String?
    /// How `modelVersion` was decided; absent when it was not (older, imported, collected images).
    public var assignment: Assignment?
    /// The number in [0, 1) that drew the version, for `random` assignments.
    public var assignmentDraw: Double?

    public init(
        id: ImageID, prompt: String, negativePrompt: String?, seed: UInt32?, steps: Int?, guidanceScale: Double?,
        width: Int, height: Int, model: String, modelVersion: String, backend: String, generationID: String,
        createdAt: String, postedTo: String?, requestID: String? = nil, assignment: Assignment? = nil, assignmentDraw: Double? = nil
    ) {
        self.id = id
        self.path = id.datasetPath
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.width = width
        self.height = height
        self.model = model
        self.modelVersion = modelVersion
        self.backend = backend
        self.generationID = generationID
        self.createdAt = createdAt
        self.postedTo = postedTo
        self.requestID = requestID
        self.assignment = assignment
        self.assignmentDraw = assignmentDraw
    }

    enum CodingKeys: String, CodingKey {
        case id, path, prompt, seed, steps, width, height, model, backend
        case negativePrompt = "negative_prompt"
        case guidanceScale = "guidance_scale"
        case modelVersion = "model_version"
        case generationID = "generation_id"
        case createdAt = "created_at"
        case postedTo = "posted_to"
        case requestID = "request_id"
        case assignment
        case assignmentDraw = "assignment_draw"
    }
}
