import AsyncHTTPClient
import DroverCore
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// The HTTP side of a generator backend, shared by every backend that speaks JSON: POSTs a JSON
/// body under one base URL and decodes the JSON answer, with an optional bearer key, a deadline
/// and a bound on the answer's size.
///
/// Every failure becomes a ``GeneratorError`` whose message is safe to show: an error answer
/// carries the backend's own message, and the key never appears in one.
struct BackendConnection: Sendable {
    /// `http(s)://host[:port][/prefix]`, without a trailing slash.
    let baseURL: String
    /// `Bearer <key>`, or `nil` without a key. Sent only in the `Authorization` header.
    private let authorization: String?
    /// How long one request may take, answer included.
    let timeout: Duration

    /// The one client every backend shares. Unlike `HTTPClient.shared` it does not retry a refused
    /// connection until the deadline: a backend that is down is reported at once.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    init(baseURL: String, apiKey: String?, timeout: Duration) {
        var trimmed = Substring(baseURL)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        self.baseURL = String(trimmed)
        authorization = apiKey.map { "Bearer \($0)" }
        self.timeout = timeout
    }

    /// POSTs `body` as JSON to `baseURL + path` and decodes the answer; JSON keys are snake_case.
    /// - Parameter answerLimit: the most bytes the answer may have.
    /// - Throws: ``GeneratorError`` when the backend cannot be reached, answers an error, answers
    ///   more than `answerLimit` bytes, or answers something that does not decode as `Answer`.
    func post<Answer: Decodable>(_ path: String, _ body: some Encodable, answerLimit: Int) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        request.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))

        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await Self.client.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
            bytes = try await response.body.collect(upTo: answerLimit)
        } catch is NIOTooManyBytesError {
            throw GeneratorError("the backend's answer is larger than \(answerLimit >> 20) MiB")
        } catch {
            throw GeneratorError("the request to the backend's \(path) failed: \(error)")
        }
        let status = response.status
        guard (200..<300).contains(status.code) else {
            let message = (try? Self.decode(BackendErrorBody.self, from: bytes))?.message
            throw GeneratorError("the backend answered \(status.code) \(status.reasonPhrase)" + (message.map { ": \($0.prefix(500))" } ?? ""))
        }
        do {
            return try Self.decode(Answer.self, from: bytes)
        } catch {
            throw GeneratorError("the backend's answer to \(path) is not what its API describes: \(error)".prefix(800).description)
        }
    }

    /// Decodes snake_case JSON, as both backends write it.
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: ByteBuffer) throws -> Value {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(bytes.readableBytesView))
    }

    /// A bound on the answer to `request`: each image a base64 PNG no larger than its raw RGBA
    /// pixels, plus 1 MiB for everything else the backend says.
    static func answerLimit(for request: GenerationRequest) -> Int {
        let pngBytes = request.width * request.height * 4 + (64 << 10)
        return request.count * pngBytes / 3 * 4 + (1 << 20)
    }
}

/// An error answer's message, in whichever shape the backend writes it: OpenAI's
/// `{"error": {"message": …}}`, or AUTOMATIC1111's `{"error": "…", "errors": "…"}` and
/// `{"detail": "…"}`.
struct BackendErrorBody: Decodable {
    var message: String?

    private struct OpenAIError: Decodable {
        var message: String
    }

    private enum CodingKeys: String, CodingKey {
        case error, errors, detail
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let candidates = [
            (try? container.decode(OpenAIError.self, forKey: .error))?.message,
            try? container.decode(String.self, forKey: .errors),
            try? container.decode(String.self, forKey: .detail),
            try? container.decode(String.self, forKey: .error),
        ]
        message = candidates.lazy.compactMap { $0 }.first { !$0.isEmpty }
    }
}
