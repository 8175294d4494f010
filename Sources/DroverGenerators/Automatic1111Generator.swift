import DroverCore
import NIOCore

/// A generator behind the AUTOMATIC1111 Stable Diffusion web UI's API: `POST /sdapi/v1/txt2img`.
///
/// The answer's `info` is a JSON document inside a string; it holds the seeds actually used
/// (`all_seeds`), the checkpoint (`sd_model_name`, `sd_model_hash`) and the settings, and that is
/// what the images record.
public struct Automatic1111Generator: ImageGenerator {
    public let backend = "automatic1111"
    /// The configured model name, or `default`: the server uses whatever checkpoint it has loaded,
    /// and each image records the one it reports.
    public let model: String
    private let connection: BackendConnection

    /// - Parameters:
    ///   - url: the web UI's base address; requests go to `<url>/sdapi/v1/txt2img`.
    ///   - model: the name recorded when the server does not report its checkpoint.
    ///   - apiKey: sent as a bearer token (for a server behind an authenticating proxy), if given.
    ///   - timeout: how long one request may take, its retries included.
    public init(url: String, model: String?, apiKey: String?, timeout: Duration) {
        self.model = model ?? "default"
        connection = BackendConnection(baseURL: url, apiKey: apiKey, timeout: timeout)
    }

    public func generate(_ request: GenerationRequest) async throws -> [GeneratedImage] {
        let body = RequestBody(
            prompt: request.prompt, negativePrompt: request.negativePrompt ?? "", seed: Int64(BackendConnection.seed(for: request)),
            steps: request.steps, cfgScale: request.guidanceScale, width: request.size.width, height: request.size.height,
            batchSize: request.count
        )
        let answer: Answer = try await connection.post(
            "/sdapi/v1/txt2img", body, answerLimit: BackendConnection.answerLimit(for: request)
        )
        let pngs = try Base64PNG.decode(answer.images, expected: request.count)
        let info: Info
        do {
            info = try BackendConnection.decode(Info.self, from: ByteBuffer(string: answer.info))
        } catch {
            throw GeneratorError("the backend's info is not the JSON document its API describes: \(error)")
        }
        return pngs.enumerated().map { index, png in
            GeneratedImage(
                png: png, seed: info.seed(of: index).flatMap(UInt32.init(exactly:)),
                steps: info.steps ?? request.steps, guidanceScale: info.cfgScale ?? request.guidanceScale,
                width: info.width ?? request.size.width, height: info.height ?? request.size.height,
                model: info.modelName ?? model
            )
        }
    }

    /// The request's JSON body; `nil` fields are left to the server's defaults.
    struct RequestBody: Encodable {
        var prompt: String
        var negativePrompt: String
        /// The request's seed, or one chosen before the first try (never `-1`, the server's choice,
        /// so that a retry makes the same images).
        var seed: Int64
        var steps: Int?
        var cfgScale: Double?
        var width: Int
        var height: Int
        var batchSize: Int
    }

    /// `GET /sdapi/v1/sd-models`: the web UI's API answers and has a checkpoint.
    public func checkHealth() async throws {
        let checkpoints: [Checkpoint] = try await connection.get("/sdapi/v1/sd-models", timeout: Self.healthCheckTimeout)
        guard !checkpoints.isEmpty else { throw GeneratorError("the web UI has no checkpoint to generate with") }
    }

    /// One of `GET /sdapi/v1/sd-models`'s checkpoints.
    struct Checkpoint: Decodable {
        var title: String
    }

    /// The answer: base64 PNGs and `info`, a JSON document in a string.
    struct Answer: Decodable {
        var images: [String?]
        var info: String
    }

    /// The decoded `info`.
    struct Info: Decodable {
        var allSeeds: [Int64]?
        var seed: Int64?
        var sdModelName: String?
        var sdModelHash: String?
        var steps: Int?
        var cfgScale: Double?
        var width: Int?
        var height: Int?

        /// The seed of image `index`: from `all_seeds`, else `seed + index` as the server assigns them.
        func seed(of index: Int) -> Int64? {
            if let allSeeds, allSeeds.indices.contains(index) { return allSeeds[index] }
            return seed.map { $0 &+ Int64(index) }
        }

        /// `name [hash]` as the web UI shows a checkpoint, or whichever of the two it reports.
        var modelName: String? {
            switch (sdModelName, sdModelHash) {
            case let (name?, hash?): "\(name) [\(hash)]"
            case let (name?, nil): name
            case let (nil, hash?): hash
            case (nil, nil): nil
            }
        }
    }
}
