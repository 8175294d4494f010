import AsyncHTTPClient
import DroverCore
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// The HTTP side of a generator backend, shared by every backend that speaks JSON: POSTs a JSON
/// body under one base URL and decodes the JSON answer, with an optional bearer key, a deadline
/// and a bound on the answer's size.
///
/// A try that failed transiently — a 5xx answer other than 501, or a connection that broke or
/// could not be made — is tried again after a short jittered pause (``RetryPolicy``), as long as
/// the pause ends before the deadline; a 4xx (or 501) answer, an answer too large or one that does
/// not decode is never tried again. The same bytes are sent each time, and the generators fix the
/// seed before the first try, so a retry makes the same images. A caller that gives up sooner
/// (GenerationService's timeout cancels the task) stops the retries at once.
///
/// Every failure becomes a ``GeneratorError`` whose message is safe to show: an error answer
/// carries the backend's own message, and the key never appears in one.
struct BackendConnection: Sendable {
    /// `http(s)://host[:port][/prefix]`, without a trailing slash.
    let baseURL: String
    /// `Bearer <key>`, or `nil` without a key. Sent only in the `Authorization` header.
    private let authorization: String?
    /// How long one request may take, its retries and answer included.
    let timeout: Duration
    /// When a failed try is tried again.
    let retry: RetryPolicy

    /// The one client every backend shares. Unlike `HTTPClient.shared` it does not retry a refused
    /// connection until the deadline: a backend that is down is reported once ``RetryPolicy``'s
    /// few tries have failed.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    init(baseURL: String, apiKey: String?, timeout: Duration, retry: RetryPolicy = .standard) {
        var trimmed = Substring(baseURL)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        self.baseURL = String(trimmed)
        authorization = apiKey.map { "Bearer \($0)" }
        self.timeout = timeout
        self.retry = retry
    }

    /// POSTs `body` as JSON to `baseURL + path` and decodes the answer; JSON keys are snake_case.
    /// A transient failure is tried again (see above) within `timeout`.
    /// - Parameter answerLimit: the most bytes the answer may have.
    /// - Throws: ``GeneratorError`` when the backend cannot be reached, answers an error, answers
    ///   more than `answerLimit` bytes, or answers something that does not decode as `Answer`;
    ///   after retries, the last try's failure.
    func post<Answer: Decodable>(_ path: String, _ body: some Encodable, answerLimit: Int) async throws -> Answer {
        let deadline = ContinuousClock.now + timeout
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        request.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))

        var attempt = 1
        var lastFailure: GeneratorError?
        while true {
            do {
                return try await send(request, path, answerLimit: answerLimit, deadline: deadline)
            } catch let failure as TransientFailure {
                let pause = retry.pause(before: attempt)
                guard attempt < retry.maxAttempts, ContinuousClock.now + pause < deadline else { throw failure.error }
                lastFailure = failure.error
                try await Task.sleep(for: pause)
                attempt += 1
            } catch let error as GeneratorError where ContinuousClock.now >= deadline {
                // A retry cut short by the deadline says less than the failure that caused it.
                throw lastFailure ?? error
            }
        }
    }

    /// GETs `baseURL + path` once, within `timeout`, and decodes the JSON answer: for health checks,
    /// which report a failure rather than retry it.
    /// - Throws: ``GeneratorError`` when the backend cannot be reached, answers an error, or answers
    ///   something that does not decode as `Answer`.
    func get<Answer: Decodable>(_ path: String, timeout: Duration) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        do {
            return try await send(request, path, answerLimit: 1 << 20, deadline: .now + timeout)
        } catch let failure as TransientFailure {
            throw failure.error
        }
    }

    /// One try of a request, with what is left until `deadline`.
    /// - Throws: ``TransientFailure`` when another try may succeed, else ``GeneratorError``.
    private func send<Answer: Decodable>(
        _ request: HTTPClientRequest, _ path: String, answerLimit: Int, deadline: ContinuousClock.Instant
    ) async throws -> Answer {
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            let left = deadline - .now
            response = try await Self.client.execute(request, timeout: .nanoseconds(max(Int64(left / .nanoseconds(1)), 1)))
            bytes = try await response.body.collect(upTo: answerLimit)
        } catch is NIOTooManyBytesError {
            throw GeneratorError("the backend's answer is larger than \(answerLimit >> 20) MiB")
        } catch {
            let failure = GeneratorError("the request to the backend's \(path) failed: \(error)")
            if Self.isTransient(error) { throw TransientFailure(error: failure) }
            throw failure
        }
        let status = response.status
        guard (200..<300).contains(status.code) else {
            let message = (try? Self.decode(BackendErrorBody.self, from: bytes))?.message
            let failure = GeneratorError("the backend answered \(status.code) \(status.reasonPhrase)" + (message.map { ": \($0.prefix(500))" } ?? ""))
            if status.code >= 500, status != .notImplemented { throw TransientFailure(error: failure) }
            throw failure
        }
        do {
            return try Self.decode(Answer.self, from: bytes)
        } catch {
            throw GeneratorError("the backend's answer to \(path) is not what its API describes: \(error)".prefix(800).description)
        }
    }

    /// Whether `error`, thrown by one try, may not happen to the next: the connection was refused,
    /// reset or closed before the whole answer came, or timed out while connecting. Not the
    /// request's own deadline, a cancellation, a bad URL or a TLS failure.
    static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPClientError:
            [.remoteConnectionClosed, .connectTimeout, .getConnectionFromPoolTimeout, .readTimeout, .writeTimeout].contains(error)
        case is IOError, is HTTPParserError:
            true  // an errno (ECONNRESET, ECONNREFUSED, EPIPE, …), or an answer cut off mid-message
        case let error as ChannelError:
            switch error {
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed, .inputClosed, .connectTimeout: true
            default: false
            }
        default:
            // NIOPosix's NIOConnectionError: every address of the host refused or timed out.
            String(reflecting: type(of: error)).hasSuffix(".NIOConnectionError")
        }
    }

    /// Decodes snake_case JSON, as both backends write it.
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: ByteBuffer) throws -> Value {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(bytes.readableBytesView))
    }

    /// The seed to send: the request's, else one chosen now, before the first try, so that a retry
    /// asks for the same images. A chosen one leaves room for `seed + i` of every image in 32 bits.
    static func seed(for request: GenerationRequest) -> UInt32 {
        request.seed ?? .random(in: 0...(UInt32.max - UInt32(GenerationRequest.maxImages)))
    }

    /// A bound on the answer to `request`: each image a base64 PNG no larger than its raw RGBA
    /// pixels, plus 1 MiB for everything else the backend says.
    static func answerLimit(for request: GenerationRequest) -> Int {
        let pngBytes = request.size.width * request.size.height * 4 + (64 << 10)
        return request.count * pngBytes / 3 * 4 + (1 << 20)
    }
}

/// A try failed in a way the next try may not; `error` is what `post` throws if no try follows.
private struct TransientFailure: Error {
    var error: GeneratorError
}

/// How often and after which pauses ``BackendConnection`` tries a transiently failed request again.
struct RetryPolicy: Sendable {
    /// Tries in all, the first included.
    var maxAttempts: Int
    /// The longest pause before the first retry; each further one may be twice as long …
    var firstPause: Duration
    /// … up to this.
    var longestPause: Duration

    /// At most 5 tries, pauses of 0.1–0.2 s, 0.2–0.4 s, 0.4–0.8 s, 0.8–1.6 s (1.5–3 s in all): long
    /// enough for a cluster to route around a replica that died, short enough that a backend that
    /// fails for good is reported within a few seconds.
    static let standard = RetryPolicy(maxAttempts: 5, firstPause: .milliseconds(200), longestPause: .seconds(2))

    /// The pause before retry `retry` (1, 2, …): half fixed, half random, so that the requests that
    /// failed together do not come back together.
    func pause(before retry: Int) -> Duration {
        let ceiling = min(firstPause * (1 << min(max(retry - 1, 0), 20)), longestPause)
        return ceiling / 2 + ceiling / 2 * Double.random(in: 0...1)
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
