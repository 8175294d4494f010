import AsyncHTTPClient
import CoreMetrics
import DroverCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The live ``SlackWebAPI``: form-encoded POSTs with the bot token, `ok` checked on every
/// answer, HTTP 429 waited out for `Retry-After` seconds, 5xx and transport errors retried with
/// exponential backoff and jitter — all bounded by a deadline per call.
public struct SlackWebClient: SlackWebAPI {
    /// How long one logical call (with its retries) may take.
    public var deadline: Duration = .seconds(30)
    /// How long a post may keep retrying `invalid_blocks` after an upload.
    public var invalidBlocksDeadline: Duration = .seconds(10)

    private let token: String
    private let baseURL: String
    private let httpClient: HTTPClient
    private let metricsFactory: (any MetricsFactory)?
    private let logger: Logger

    /// - Parameters:
    ///   - token: the bot token (`xoxb-…`); never logged.
    ///   - baseURL: the Web API base, `https://slack.com/api/` unless `SLACK_API_URL` says otherwise.
    ///   - metricsFactory: where failed calls are counted (`drover_slack_api_errors_total` by method and error).
    public init(token: String, baseURL: String, httpClient: HTTPClient = .shared, metricsFactory: (any MetricsFactory)? = nil, logger: Logger) {
        self.token = token
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
        self.httpClient = httpClient
        self.metricsFactory = metricsFactory
        self.logger = logger
    }

    public func uploadFile(_ bytes: [UInt8], filename: String, title: String, altText: String) async throws -> String {
        let ticket = try await call(
            "files.getUploadURLExternal", ["filename": filename, "length": "\(bytes.count)", "alt_txt": String(altText.prefix(1_000))],
            answer: UploadTicket.self
        )
        try await postExpectingOK(bytes, to: ticket.uploadURL, contentType: "application/octet-stream", method: "file upload", timeout: .seconds(30))
        let files = String(decoding: try JSONEncoder().encode([UploadedFile(id: ticket.fileID, title: title)]), as: UTF8.self)
        try await call("files.completeUploadExternal", ["files": files], answer: NoFields.self)
        return ticket.fileID
    }

    public func postMessage(channel: String, text: String, blocksJSON: String) async throws -> SlackMessageRef {
        let started = ContinuousClock.now
        var delay = Duration.milliseconds(300)
        while true {
            do {
                return try await call(
                    "chat.postMessage", ["channel": channel, "text": text, "blocks": blocksJSON, "unfurl_links": "false"],
                    answer: SlackMessageRef.self
                )
            } catch let error as SlackAPIError where error.error == "invalid_blocks" && ContinuousClock.now - started < invalidBlocksDeadline {
                // A file uploaded a moment ago is not always usable in blocks yet.
                logger.debug("image not ready for a post yet; retrying", metadata: ["delay": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    public func updateMessage(_ message: SlackMessageRef, text: String, blocksJSON: String) async throws {
        try await call(
            "chat.update", ["channel": message.channel, "ts": message.ts, "text": text, "blocks": blocksJSON], answer: NoFields.self
        )
    }

    public func respond(to responseURL: String, text: String, inChannel: Bool) async throws {
        let body = try JSONEncoder().encode(
            CommandResponse(responseType: inChannel ? "in_channel" : "ephemeral", text: text, replaceOriginal: false)
        )
        try await postExpectingOK(Array(body), to: responseURL, contentType: "application/json; charset=utf-8", method: "response_url", timeout: .seconds(10))
    }

    /// POSTs `bytes` to a URL that needs no token (an upload URL, a `response_url`) and expects 200.
    private func postExpectingOK(_ bytes: [UInt8], to url: String, contentType: String, method: String, timeout: Duration) async throws {
        try await withRetries(method: method) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
            let response = try await httpClient.execute(request, timeout: .seconds(timeout.components.seconds))
            _ = try await response.body.collect(upTo: 64 << 10)
            return response.status == .ok ? .done(()) : .retryable(status: response.status, retryAfter: response.retryAfter)
        }
    }

    public func fileInfo(_ fileID: String) async throws -> SlackFile {
        try await call("files.info", ["file": fileID], answer: FileInfo.self).file
    }

    public func download(_ url: String, limit: Int) async throws -> [UInt8] {
        try await withRetries(method: "file download") {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await httpClient.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: limit)
            return response.status == .ok ? .done(Array(body.readableBytesView)) : .retryable(status: response.status, retryAfter: response.retryAfter)
        }
    }

    // MARK: - Calls

    /// Calls a Web API method (its fields form-encoded) and decodes its answer once `ok` is
    /// true; failures are counted.
    @discardableResult
    func call<Answer: Decodable>(_ method: String, _ fields: [String: String], answer: Answer.Type) async throws -> Answer {
        do {
            return try await callOnce(method, fields, answer: answer)
        } catch let error as SlackAPIError {
            if let metricsFactory {
                Counter(label: "drover_slack_api_errors_total", dimensions: [("method", method), ("error", error.error)], factory: metricsFactory)
                    .increment()
            }
            throw error
        }
    }

    private func callOnce<Answer: Decodable>(_ method: String, _ fields: [String: String], answer: Answer.Type) async throws -> Answer {
        let body = try URLEncodedFormEncoder().encode(fields)
        let bytes: ByteBuffer = try await withRetries(method: method) {
            var request = HTTPClientRequest(url: baseURL + method)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await httpClient.execute(request, timeout: .seconds(20))
            let bytes = try await response.body.collect(upTo: 4 << 20)
            return response.status == .ok ? .done(bytes) : .retryable(status: response.status, retryAfter: response.retryAfter)
        }
        let json = Data(bytes.readableBytesView)
        let decoder = JSONDecoder()
        guard let status = try? decoder.decode(AnswerStatus.self, from: json) else {
            throw SlackAPIError(method: method, error: "the answer is not a JSON object with ok")
        }
        guard status.ok else { throw SlackAPIError(method: method, error: status.error ?? "ok is not true") }
        do {
            return try decoder.decode(Answer.self, from: json)
        } catch {
            throw SlackAPIError(method: method, error: "the answer lacks what \(method) returns: \(error)")
        }
    }

    /// What one attempt of a call came to.
    enum Attempt<T: Sendable>: Sendable {
        case done(T)
        case retryable(status: HTTPResponseStatus, retryAfter: Duration?)
    }

    /// Runs `attempt` until it is done, waiting `Retry-After` on 429 and backing off with jitter
    /// on 5xx and transport errors, until ``deadline``; other statuses fail at once.
    func withRetries<T: Sendable>(method: String, _ attempt: @Sendable () async throws -> Attempt<T>) async throws -> T {
        let started = ContinuousClock.now
        var backoff = Duration.milliseconds(250)
        while true {
            let wait: Duration
            do {
                switch try await attempt() {
                case .done(let value):
                    return value
                case .retryable(let status, let retryAfter) where status == .tooManyRequests:
                    wait = retryAfter ?? .seconds(1)
                    logger.notice("Slack rate limit; waiting", metadata: ["method": "\(method)", "retry_after_s": "\(wait.components.seconds)"])
                case .retryable(let status, _) where status.code >= 500:
                    wait = backoff.jittered()
                    backoff = min(backoff * 2, .seconds(8))
                case .retryable(let status, _):
                    throw SlackAPIError(method: method, error: "HTTP \(status.code)")
                }
            } catch let error as HTTPClientError {
                wait = backoff.jittered()
                backoff = min(backoff * 2, .seconds(8))
                logger.notice("Slack call failed; retrying", metadata: ["method": "\(method)", "error": "\(error)"])
            }
            guard ContinuousClock.now - started + wait < deadline else {
                throw SlackAPIError(method: method, error: "gave up after \(deadline) of retries")
            }
            try await Task.sleep(for: wait)
        }
    }
}

// MARK: - Answers

/// What every Web API answer says: whether the call worked, and if not, why.
struct AnswerStatus: Decodable {
    var ok: Bool
    var error: String?
}

/// An answer whose fields Drover does not need.
struct NoFields: Decodable {}

/// `files.getUploadURLExternal`'s answer.
struct UploadTicket: Decodable {
    var uploadURL: String
    var fileID: String
    enum CodingKeys: String, CodingKey {
        case uploadURL = "upload_url"
        case fileID = "file_id"
    }
}

/// One file of `files.completeUploadExternal`'s `files` field.
struct UploadedFile: Encodable {
    var id: String
    var title: String
}

/// `files.info`'s answer.
struct FileInfo: Decodable {
    var file: SlackFile
}

extension HTTPClientResponse {
    /// `Retry-After` in seconds, if given.
    var retryAfter: Duration? {
        headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds(max(0, min($0, 120))) }
    }
}

extension Duration {
    /// The duration scaled by a random factor in [0.5, 1.5).
    func jittered() -> Duration {
        self * Double.random(in: 0.5..<1.5)
    }
}
