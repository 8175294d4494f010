import DroverCore

/// The outer object of an Events API request. Only what Drover reads is decoded; everything
/// else Slack sends is ignored, so new fields never break reading.
public struct EventEnvelope: Decodable, Sendable {
    /// `url_verification`, `event_callback`, `app_rate_limited`, ….
    public var type: String
    public var challenge: String?
    public var teamID: String?
    public var eventID: String?
    public var event: Event?
    public var authorizations: [Authorization]?

    enum CodingKeys: String, CodingKey {
        case type, challenge, event, authorizations
        case teamID = "team_id"
        case eventID = "event_id"
    }

    /// An installation the event is delivered for; for a bot, `userID` is the bot's own user.
    public struct Authorization: Decodable, Sendable {
        public var userID: String?
        public var isBot: Bool?

        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case isBot = "is_bot"
        }
    }

    /// The inner event, with the fields of the kinds Drover handles.
    public struct Event: Decodable, Sendable {
        public var type: String
        public var user: String?
        public var reaction: String?
        public var itemUser: String?
        public var item: Item?
        public var eventTS: String?
        /// `file_shared`: the file, the channel and the user who shared it.
        public var fileID: String?
        public var channelID: String?
        public var userID: String?

        enum CodingKeys: String, CodingKey {
            case type, user, reaction, item
            case itemUser = "item_user"
            case eventTS = "event_ts"
            case fileID = "file_id"
            case channelID = "channel_id"
            case userID = "user_id"
        }

        /// What a reaction was added to.
        public struct Item: Decodable, Sendable {
            public var type: String
            public var channel: String?
            public var ts: String?
        }
    }

    /// The app's own bot user, from the delivery's authorizations.
    public var botUserID: String? {
        authorizations?.first(where: { $0.isBot == true })?.userID ?? authorizations?.first?.userID
    }
}

/// A 👍 / 👎 reaction added to or removed from a message, as the inbox stores it (its JSON keys
/// are the property names).
public struct ReactionChange: Codable, Sendable, Equatable {
    public var added: Bool
    public var teamID: String
    public var user: String
    public var rating: Rating
    public var channel: String
    public var messageTS: String
    public var eventTS: String?

    /// When it happened: `event_ts` in microseconds since 1970, `nil` if there is none.
    public var eventTime: Int64? { eventTS.flatMap(Self.microseconds) }

    /// A Slack timestamp (`"1360782804.083113"`: whole seconds, then optionally a point and one
    /// to six digits) in microseconds since 1970; `nil` for anything else.
    static func microseconds(_ ts: String) -> Int64? {
        var seconds: Int64 = 0
        var secondDigits = 0
        var fraction: Int64 = 0
        var fractionDigits: Int?
        for byte in ts.utf8 {
            if byte == UInt8(ascii: ".") {
                guard fractionDigits == nil, secondDigits > 0 else { return nil }
                fractionDigits = 0
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            if let digits = fractionDigits {
                guard digits < 6 else { return nil }
                fraction = fraction * 10 + digit
                fractionDigits = digits + 1
            } else {
                seconds = seconds * 10 + digit
                secondDigits += 1
                guard seconds < 1 << 40 else { return nil }
            }
        }
        guard secondDigits > 0, fractionDigits != 0 else { return nil }
        for _ in (fractionDigits ?? 6)..<6 { fraction *= 10 }
        return seconds * 1_000_000 + fraction
    }

    /// The reaction change an event describes, if it is a vote that may count: a 👍 / 👎 on a
    /// message, by someone other than the app's bot. Anything else gives `nil`.
    public init?(envelope: EventEnvelope) {
        guard let event = envelope.event, event.type == "reaction_added" || event.type == "reaction_removed",
            let reaction = event.reaction, let rating = ReactionVote.rating(for: reaction),
            let item = event.item, item.type == "message", let channel = item.channel, let ts = item.ts,
            let user = event.user, let teamID = envelope.teamID
        else { return nil }
        if let bot = envelope.botUserID, bot == user { return nil }
        self.added = event.type == "reaction_added"
        self.teamID = teamID
        self.user = user
        self.rating = rating
        self.channel = channel
        self.messageTS = ts
        self.eventTS = event.eventTS
    }
}
