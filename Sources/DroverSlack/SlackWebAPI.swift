/// Where a posted message lives: what reactions and `chat.update` refer to.
public struct SlackMessageRef: Codable, Sendable, Hashable {
    public var channel: String
    public var ts: String
    public init(channel: String, ts: String) {
        self.channel = channel
        self.ts = ts
    }
}

/// The Slack Web API calls Drover makes.
public protocol SlackWebAPI: Sendable {
    /// Uploads a file privately (files v2: `files.getUploadURLExternal`, POST the bytes,
    /// `files.completeUploadExternal` without a channel) and returns its file id.
    func uploadFile(_ bytes: [UInt8], filename: String, title: String, altText: String) async throws -> String
    /// `chat.postMessage`; retried while Slack answers `invalid_blocks` for a just-uploaded file.
    func postMessage(channel: String, text: String, blocksJSON: String) async throws -> SlackMessageRef
    /// `chat.update` of one of the bot's own messages.
    func updateMessage(_ message: SlackMessageRef, text: String, blocksJSON: String) async throws
    /// POSTs a message to a slash command's `response_url` (ephemeral unless `inChannel`).
    func respond(to responseURL: String, text: String, inChannel: Bool) async throws
    /// `files.info`.
    func fileInfo(_ fileID: String) async throws -> SlackFile
    /// Downloads a file's `url_private_download` with the bot token, up to `limit` bytes.
    func download(_ url: String, limit: Int) async throws -> [UInt8]
}

/// A Web API call that failed for good; `error` is Slack's error code (`not_in_channel`, …) or
/// a description of the transport failure. Never holds a token.
public struct SlackAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var method: String
    public var error: String

    public init(method: String, error: String) {
        self.method = method
        self.error = error
    }

    public var description: String { "Slack \(method) failed: \(error)" }

    /// The bot cannot post where it was asked to.
    public var isNotInChannel: Bool { ["not_in_channel", "channel_not_found"].contains(error) }
}
