import DroverCore

/// A source of images for prompts: the embedded procedural painter, or a real model behind an API.
public protocol ImageGenerator: Sendable {
    /// The backend's name, as recorded in provenance: `procedural`, `openai`, `automatic1111`.
    var backend: String { get }
    /// The model that will be asked, as recorded in provenance.
    var model: String { get }
    /// Makes `request.count` images.
    /// - Throws: ``GeneratorError`` when the backend fails or answers something unusable.
    func generate(_ request: GenerationRequest) async throws -> [GeneratedImage]
    /// Asks the backend, once and briefly, whether it is up and serves the model (`drover models`).
    /// - Throws: ``GeneratorError`` saying why not.
    func checkHealth() async throws
}

extension ImageGenerator {
    /// How long a health check may take.
    public static var healthCheckTimeout: Duration { .seconds(10) }
}

/// One generated picture and the settings that actually made it.
public struct GeneratedImage: Sendable {
    public var png: [UInt8]
    /// The seed actually used, when the backend reports one.
    public var seed: UInt32?
    public var steps: Int?
    public var guidanceScale: Double?
    public var width: Int
    public var height: Int
    /// The model that made it, as the backend reports it.
    public var model: String

    public init(png: [UInt8], seed: UInt32?, steps: Int?, guidanceScale: Double?, width: Int, height: Int, model: String) {
        self.png = png
        self.seed = seed
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.width = width
        self.height = height
        self.model = model
    }
}

/// Why a generator could not deliver; the description is safe to show to the requester.
public struct GeneratorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
