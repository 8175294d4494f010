import DroverCore
import DroverGenerators
import DroverTestSupport
import Foundation
import Hummingbird
import Synchronization
import Testing

/// The requests a fake backend received: headers that matter here and the JSON body.
final class ReceivedRequests: Sendable {
    struct Received: Sendable {
        var authorization: String?
        var body: Data
        /// The body as a JSON object.
        func json() throws -> [String: Any] {
            try #require(JSONSerialization.jsonObject(with: body) as? [String: Any])
        }
    }

    private let storage = Mutex<[Received]>([])

    var all: [Received] { storage.withLock { $0 } }

    /// Records the request.
    /// - Returns: how many requests came before it.
    @discardableResult
    func record(_ request: Request) async throws -> Int {
        let body = try await request.body.collect(upTo: 1 << 20)
        return storage.withLock {
            $0.append(Received(authorization: request.headers[.authorization], body: Data(body.readableBytesView)))
            return $0.count - 1
        }
    }

    /// Records the request, then answers `status` with `answer` serialised as JSON.
    func answer(_ request: Request, context: BasicRequestContext, status: HTTPResponse.Status, _ answer: [String: Any]) async throws -> Response {
        try await record(request)
        return jsonResponse(status, answer)
    }
}

/// `answer` serialised as JSON, with `status`.
func jsonResponse(_ status: HTTPResponse.Status, _ answer: [String: Any]) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: answer)))
    )
}

/// Two small, different PNGs.
let pngs = [
    ProceduralGenerator.paint(prompt: "an ox", seed: 1, width: 64, height: 64),
    ProceduralGenerator.paint(prompt: "an ox", seed: 2, width: 64, height: 64),
]

@Suite struct Automatic1111GeneratorTests {
    /// What AUTOMATIC1111's `/sdapi/v1/txt2img` answers for a batch of two (trimmed to what Drover reads
    /// plus a few fields it must ignore).
    /// `info` is a JSON document in a string.
    static func txt2imgAnswer(images: [String], info: String) -> [String: Any] {
        ["images": images, "parameters": ["prompt": "an ox", "batch_size": 2], "info": info]
    }

    static let info = #"""
        {"prompt": "an ox", "all_prompts": ["an ox", "an ox"], "seed": 3000000000, "all_seeds": [3000000000, 3000000001],
         "subseed": 99, "sd_model_name": "v1-5-pruned-emaonly", "sd_model_hash": "6ce0161689", "steps": 20, "cfg_scale": 6.5,
         "width": 64, "height": 64, "sampler_name": "Euler a", "infotexts": ["an ox\nSteps: 20"]}
        """#

    @Test func sendsTheDocumentedRequestAndRecordsWhatInfoReports() async throws {
        let received = ReceivedRequests()
        let router = Router()
        router.post("/sdapi/v1/txt2img") { request, context in
            try await received.answer(request, context: context, status: .ok, Self.txt2imgAnswer(
                images: pngs.map { Data($0).base64EncodedString() }, info: Self.info
            ))
        }
        let images = try await withHTTPServer(router) { url in
            let generator = Automatic1111Generator(url: url + "/", model: nil, apiKey: nil, timeout: .seconds(10))
            return try await generator.generate(try GenerationRequest(
                prompt: "an ox", negativePrompt: "blurry", count: 2, steps: 20, guidanceScale: 6.5, width: 64, height: 64
            ))
        }

        let request = try #require(received.all.first).json()
        #expect(request["prompt"] as? String == "an ox")
        #expect(request["negative_prompt"] as? String == "blurry")
        let seed = try #require(request["seed"] as? Int, "Drover chooses the seed before the first try")
        #expect((0...Int(UInt32.max)).contains(seed))
        #expect(request["steps"] as? Int == 20)
        #expect(request["cfg_scale"] as? Double == 6.5)
        #expect(request["width"] as? Int == 64 && request["height"] as? Int == 64)
        #expect(request["batch_size"] as? Int == 2)

        #expect(images.map(\.png) == pngs)
        #expect(images.map(\.seed) == [3_000_000_000, 3_000_000_001])
        #expect(images.allSatisfy { $0.model == "v1-5-pruned-emaonly [6ce0161689]" })
        #expect(images.allSatisfy { $0.steps == 20 && $0.guidanceScale == 6.5 && $0.width == 64 && $0.height == 64 })
    }

    @Test func sendsTheSeedAndFallsBackToItWithoutAllSeeds() async throws {
        let received = ReceivedRequests()
        let router = Router()
        router.post("/sdapi/v1/txt2img") { request, context in
            try await received.answer(request, context: context, status: .ok, Self.txt2imgAnswer(
                images: pngs.map { Data($0).base64EncodedString() }, info: #"{"seed": 41, "sd_model_hash": "6ce0161689"}"#
            ))
        }
        let images = try await withHTTPServer(router) { url in
            try await Automatic1111Generator(url: url, model: "sd15", apiKey: nil, timeout: .seconds(10))
                .generate(try GenerationRequest(prompt: "an ox", count: 2, seed: 41, width: 64, height: 64))
        }
        #expect(try #require(received.all.first).json()["seed"] as? Int == 41)
        #expect(images.map(\.seed) == [41, 42])
        #expect(images.map(\.model) == ["6ce0161689", "6ce0161689"])
        #expect(images.allSatisfy { $0.steps == nil && $0.guidanceScale == nil })
    }

    struct BadAnswer: CustomTestStringConvertible, Sendable {
        var name: String
        var status: HTTPResponse.Status
        var images: [String]
        var info: String
        var message: String
        var testDescription: String { name }
    }

    static let badAnswers = [
        BadAnswer(name: "an error", status: .internalServerError, images: [], info: "",
                  message: "the backend answered 500 Internal Server Error: CUDA out of memory"),
        BadAnswer(name: "one image for two", status: .ok, images: [Data(pngs[0]).base64EncodedString()], info: "{}",
                  message: "the backend returned 1 images for 2 asked"),
        BadAnswer(name: "a JPEG", status: .ok, images: [Data(pngs[0]).base64EncodedString(), Data([0xFF, 0xD8, 0xFF, 0xE0]).base64EncodedString()],
                  info: "{}", message: "image 2 of the backend's answer is not a PNG"),
        BadAnswer(name: "not base64", status: .ok, images: ["%%%", "%%%"], info: "{}",
                  message: "image 1 of the backend's answer is not base64 image data"),
        BadAnswer(name: "info that is not JSON", status: .ok, images: pngs.map { Data($0).base64EncodedString() }, info: "Steps: 20",
                  message: "the backend's info is not the JSON document its API describes"),
    ]

    @Test(arguments: badAnswers)
    func aBadAnswerIsAGeneratorErrorSayingWhy(_ bad: BadAnswer) async throws {
        let router = Router()
        router.post("/sdapi/v1/txt2img") { request, context in
            let answer: [String: Any] = bad.status == .ok
                ? ["images": bad.images, "info": bad.info]
                : ["error": "OutOfMemoryError", "detail": "", "body": "", "errors": "CUDA out of memory"]
            return try await ReceivedRequests().answer(request, context: context, status: bad.status, answer)
        }
        let error = try await withHTTPServer(router) { url in
            await #expect(throws: GeneratorError.self) {
                try await Automatic1111Generator(url: url, model: nil, apiKey: nil, timeout: .seconds(10))
                    .generate(try GenerationRequest(prompt: "an ox", count: 2, width: 64, height: 64))
            }
        }
        #expect(error?.description.hasPrefix(bad.message) == true, "\(String(describing: error))")
    }
}

@Suite struct OpenAIImagesGeneratorTests {
    static let key = "sk-test-0123456789abcdef"

    /// A fake that insists on the bearer key and refuses the request the way OpenAI does.
    static func refusingRouter(_ received: ReceivedRequests) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/images/generations") { request, context in
            guard request.headers[.authorization] == "Bearer \(key)" else {
                return try await received.answer(request, context: context, status: .unauthorized, [
                    "error": ["message": "Incorrect API key provided", "type": "invalid_request_error", "param": NSNull(), "code": "invalid_api_key"],
                ])
            }
            return try await received.answer(request, context: context, status: .badRequest, [
                "error": ["message": "Invalid size: 4096x64 is not supported by this model", "type": "invalid_request_error", "param": "size", "code": NSNull()],
            ])
        }
        return router
    }

    @Test func sendsTheKeyAndTheExtensionFieldsAndReportsTheBackendsMessage() async throws {
        let received = ReceivedRequests()
        let error = try await withHTTPServer(Self.refusingRouter(received)) { url in
            await #expect(throws: GeneratorError.self) {
                try await OpenAIImagesGenerator(url: url, model: "sd-tiny", apiKey: Self.key, timeout: .seconds(10))
                    .generate(try GenerationRequest(
                        prompt: "an ox", negativePrompt: "blurry", count: 3, seed: 7, steps: 4, guidanceScale: 5, width: 64, height: 64
                    ))
            }
        }
        #expect(error?.description == "the backend answered 400 Bad Request: Invalid size: 4096x64 is not supported by this model")
        let request = try #require(received.all.first)
        #expect(request.authorization == "Bearer \(Self.key)")
        let body = try request.json()
        #expect(body["model"] as? String == "sd-tiny")
        #expect(body["prompt"] as? String == "an ox")
        #expect(body["n"] as? Int == 3)
        #expect(body["size"] as? String == "64x64")
        #expect(body["response_format"] as? String == "b64_json")
        #expect(body["seed"] as? Int == 7)
        #expect(body["num_inference_steps"] as? Int == 4)
        #expect(body["guidance_scale"] as? Double == 5)
        #expect(body["negative_prompt"] as? String == "blurry")
    }

    @Test func aWrongKeyIsReportedWithoutTheKey() async throws {
        let received = ReceivedRequests()
        let wrongKey = "sk-wrong-fedcba9876543210"
        let error = try await withHTTPServer(Self.refusingRouter(received)) { url in
            await #expect(throws: GeneratorError.self) {
                try await OpenAIImagesGenerator(url: url, model: nil, apiKey: wrongKey, timeout: .seconds(10))
                    .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
            }
        }
        #expect(error?.description == "the backend answered 401 Unauthorized: Incorrect API key provided")
        #expect(error?.description.contains(wrongKey) == false)
        let body = try #require(received.all.first).json()
        #expect(body["model"] == nil && body["num_inference_steps"] == nil)
        #expect(body["seed"] is Int, "Drover chooses the seed before the first try")
    }

    @Test func withoutAKeyNoAuthorizationIsSent() async throws {
        let received = ReceivedRequests()
        _ = try await withHTTPServer(Self.refusingRouter(received)) { url in
            await #expect(throws: GeneratorError.self) {
                try await OpenAIImagesGenerator(url: url, model: nil, apiKey: nil, timeout: .seconds(10))
                    .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
            }
        }
        #expect(try #require(received.all.first).authorization == nil)
    }

    @Test func anUnreachableBackendIsAGeneratorError() async throws {
        let closedURL = try await withHTTPServer(Router()) { url in url }  // served a moment ago, closed now
        let error = await #expect(throws: GeneratorError.self) {
            try await OpenAIImagesGenerator(url: closedURL, model: nil, apiKey: Self.key, timeout: .seconds(30))
                .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
        }
        #expect(error?.description.hasPrefix("the request to the backend's /v1/images/generations failed: ") == true)
        #expect(error?.description.contains(Self.key) == false)
    }
}
