import DroverCore

/// A generator behind the OpenAI Images API: `POST /v1/images/generations`, with the extension
/// fields `seed`, `num_inference_steps`, `guidance_scale` and `negative_prompt` that
/// Stable Diffusion servers (the bundled worker among them) understand.
///
/// What the backend reports (each image's seed, the model, steps, guidance scale and size) is what
/// the images record; a seed the backend does not report is recorded as unknown. A request without
/// a seed is sent with one chosen before the first try: a transiently failed try is tried again
/// (``BackendConnection``) and must make the same images.
public struct OpenAIImagesGenerator: ImageGenerator {
    public let backend = "openai"
    /// The configured model name, or `default` when the backend chooses.
    public let model: String
    private let configuredModel: String?
    private let connection: BackendConnection

    /// - Parameters:
    ///   - url: the server's base address; requests go to `<url>/v1/images/generations`.
    ///   - model: the `model` field of each request; `nil` leaves it out.
    ///   - apiKey: sent as a bearer token, if given; never logged or put in an error.
    ///   - timeout: how long one request may take, its retries included.
    public init(url: String, model: String?, apiKey: String?, timeout: Duration) {
        configuredModel = model
        self.model = model ?? "default"
        connection = BackendConnection(baseURL: url, apiKey: apiKey, timeout: timeout)
    }

    public func generate(_ request: GenerationRequest) async throws -> [GeneratedImage] {
        let body = RequestBody(
            model: configuredModel, prompt: request.prompt, n: request.count, size: "\(request.size.width)x\(request.size.height)",
            seed: BackendConnection.seed(for: request), numInferenceSteps: request.steps, guidanceScale: request.guidanceScale,
            negativePrompt: request.negativePrompt
        )
        let answer: Answer = try await connection.post(
            "/v1/images/generations", body, answerLimit: BackendConnection.answerLimit(for: request)
        )
        let pngs = try Base64PNG.decode(answer.data.map(\.b64Json), expected: request.count)
        return zip(pngs, answer.data).map { png, item in
            GeneratedImage(
                png: png, seed: item.seed.flatMap(UInt32.init(exactly:)),
                steps: answer.numInferenceSteps ?? request.steps, guidanceScale: answer.guidanceScale ?? request.guidanceScale,
                width: answer.width ?? request.size.width, height: answer.height ?? request.size.height,
                model: answer.model ?? model
            )
        }
    }

    /// `GET /v1/models`: the backend answers, and lists the configured model if there is one (the
    /// bundled worker lists its base pipeline and every LoRA adapter it serves).
    public func checkHealth() async throws {
        let models: ModelList = try await connection.get("/v1/models", timeout: Self.healthCheckTimeout)
        if let configuredModel, !models.data.contains(where: { $0.id == configuredModel }) {
            let served = models.data.map(\.id).prefix(20).joined(separator: ", ")
            throw GeneratorError("the backend does not serve the model \(configuredModel) (it serves: \(served.isEmpty ? "none" : served))")
        }
    }

    /// `GET /v1/models`'s answer.
    struct ModelList: Decodable {
        struct Model: Decodable {
            var id: String
        }
        var data: [Model]
    }

    /// The request's JSON body; `nil` fields are left out.
    struct RequestBody: Encodable {
        var model: String?
        var prompt: String
        var n: Int
        var size: String
        var responseFormat = "b64_json"
        var seed: UInt32
        var numInferenceSteps: Int?
        var guidanceScale: Double?
        var negativePrompt: String?
    }

    /// The answer: the images, and the settings that made them where the backend reports them.
    struct Answer: Decodable {
        struct Item: Decodable {
            var b64Json: String?
            var seed: Int64?
        }
        var data: [Item]
        var model: String?
        var numInferenceSteps: Int?
        var guidanceScale: Double?
        var width: Int?
        var height: Int?
    }
}
