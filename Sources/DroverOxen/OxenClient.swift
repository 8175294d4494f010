import AsyncHTTPClient
import DroverCore
import DroverStore
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// Oxen's HTTP API for one repository (the routes are in `Tests/FakeOxen/README.md`). Every
/// request has a deadline and a limit on the size of its answer; redirects are not followed, so
/// the bearer token goes nowhere but `scheme://host`.
public final class OxenClient: Sendable {
    /// The answer to a request that succeeded.
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    public let settings: OxenSettings
    private let http: HTTPClient
    /// The deadline of a request without a body to send, and the base of one with a body.
    private let timeout: Duration
    /// The slowest upload rate a request's deadline allows for (bytes per second).
    private let slowestUpload: Int

    /// - Parameters:
    ///   - timeout: every request must be answered in full within this (plus time for its body at
    ///     `slowestUpload` bytes per second).
    public init(settings: OxenSettings, timeout: Duration = .seconds(30), slowestUpload: Int = 256 << 10) {
        self.settings = settings
        self.timeout = timeout
        self.slowestUpload = slowestUpload
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(Int64(timeout.components.seconds) + 1))
        )
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; call once, when done.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// `/api/repos/{namespace}/{name}` followed by `path`, each segment percent-encoded.
    func repositoryPath(_ segments: [String]) -> String {
        "/api/repos/" + ([settings.namespace, settings.name] + segments).map(Self.encode).joined(separator: "/")
    }

    /// A path segment (or a `/`-separated path) percent-encoded, its slashes kept.
    static func encode(_ segment: String) -> String {
        var encoded = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    /// Sends one request and returns its answer when the status is 2xx.
    /// - Parameters:
    ///   - path: from the root, query included.
    ///   - limit: a longer answer is a ``OxenError/Kind/badResponse``.
    /// - Throws: ``OxenError`` for any other status, a deadline passed, a failed connection.
    func send(
        _ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil, contentType: String? = nil, limit: Int = 8 << 20
    ) async throws(OxenError) -> Answer {
        let name = "\(method.rawValue) \(path.prefix { $0 != "?" })"
        var request = HTTPClientRequest(url: settings.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(settings.token.value)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "drover")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(body) }
        let deadline = timeout + .seconds(Double(body?.readableBytes ?? 0) / Double(slowestUpload))
        let prepared = request
        let result: Result<Answer, any Error> = await withTaskGroup(of: Result<Answer, any Error>?.self) { [http] group in
            group.addTask {
                do {
                    let response = try await http.execute(prepared, timeout: .nanoseconds(deadline.nanoseconds))
                    let bytes = try await response.body.collect(upTo: limit)
                    return .success(Answer(status: Int(response.status.code), headers: response.headers, body: bytes))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(OxenError(kind: .timeout, request: name, message: "no answer within \(deadline)"))
        }
        let answer: Answer
        switch result {
        case .success(let value): answer = value
        case .failure(let error as OxenError): throw error
        case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout:
            throw OxenError(kind: .timeout, request: name, message: "no answer in time (\(error))")
        case .failure(let error as NIOTooManyBytesError):
            throw OxenError(kind: .badResponse, request: name, message: "the answer is larger than \(limit) bytes (\(error))")
        case .failure(let error):
            throw OxenError(kind: .transport, request: name, message: "\(error)".prefix(300).description)
        }
        guard (200..<300).contains(answer.status) else {
            var error = OxenError(kind: OxenError.kind(forStatus: answer.status), status: answer.status, request: name, message: Self.message(answer.body))
            if let text = answer.headers.first(name: "Retry-After"), let seconds = Double(text), seconds >= 0 {
                error.retryAfter = .milliseconds(Int64(min(seconds, 3_600) * 1_000))
            }
            throw error
        }
        return answer
    }

    /// Sends a request and decodes its JSON answer.
    func json<Reply: Decodable>(
        _ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil, contentType: String? = nil, as type: Reply.Type
    ) async throws(OxenError) -> Reply {
        let answer = try await send(method, path, body: body, contentType: contentType)
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(answer.body.readableBytesView))
        } catch {
            throw OxenError(kind: .badResponse, status: answer.status, request: "\(method.rawValue) \(path.prefix { $0 != "?" })", message: "unexpected JSON: \("\(error)".prefix(200))")
        }
    }

    /// A JSON body.
    static func body(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8))
    }

    /// Oxen's message in an error answer: `status_description`, `error.title: error.detail`, or
    /// `status_message`; otherwise the start of the body.
    static func message(_ body: ByteBuffer) -> String {
        struct Reply: Decodable {
            struct Detail: Decodable { var title: String?; var detail: String? }
            var status_message: String?
            var status_description: String?
            var error: Detail?
        }
        let text: String
        if let reply = try? JSONDecoder().decode(Reply.self, from: Data(body.readableBytesView)) {
            text = reply.status_description ?? reply.error.map { [$0.title, $0.detail].compactMap { $0 }.joined(separator: ": ") } ?? reply.status_message ?? ""
        } else {
            text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
        }
        return String(text.prefix(300))
    }
}
