/// A file as `files.info` describes it, reduced to what listener mode needs.
public struct SlackFile: Decodable, Sendable, Equatable {
    public var id: String
    public var title: String?
    public var name: String?
    public var mimetype: String?
    public var size: Int?
    public var user: String?
    public var urlPrivateDownload: String?
    /// Where the file was shared: `public` / `private` → channel → the sharing messages.
    public var shares: [String: [String: [Share]]]?

    /// One message that shares the file.
    public struct Share: Decodable, Sendable, Equatable {
        public var ts: String
    }

    enum CodingKeys: String, CodingKey {
        case id, title, name, mimetype, size, user, shares
        case urlPrivateDownload = "url_private_download"
    }

    /// The first message that shares the file in `channel`, if Slack knows it yet.
    public func shareTS(in channel: String) -> String? {
        for scope in ["public", "private"] {
            if let ts = shares?[scope]?[channel]?.first?.ts { return ts }
        }
        return nil
    }
}

/// A `file_shared` event by a given user, as the inbox stores it.
public struct FileShare: Codable, Sendable, Equatable {
    public var teamID: String
    public var fileID: String
    public var channel: String
    public var user: String

    /// The share an event describes, if it is a `file_shared` by `user`.
    public init?(envelope: EventEnvelope, by user: String) {
        guard let event = envelope.event, event.type == "file_shared", let teamID = envelope.teamID,
            let fileID = event.fileID, let channel = event.channelID, event.userID == user
        else { return nil }
        self.teamID = teamID
        self.fileID = fileID
        self.channel = channel
        self.user = user
    }
}
