import DroverCore

/// The outer object of an Events API request. Only what Drover reads is read; everything
/// else Slack sends is ignored, so new fields never break reading.
public struct EventEnvelope: Sendable {
    /// `url_verification`, `event_callback`, `app_rate_limited`, ….
    public var type: String
    public var challenge: String?
    public var teamID: String?
    public var eventID: String?
    public var event: Event?
    public var authorizations: [Authorization]?

    /// An installation the event is delivered for; for a bot, `userID` is the bot's own user.
    public struct Authorization: Sendable {
        public var userID: String?
        public var isBot: Bool?

        init(_ fields: JSONFields) throws(JSONShapeError) {
            userID = try fields.optionalString("user_id")
            isBot = try fields.optionalBool("is_bot")
        }
    }

    /// The inner event, with the fields of the kinds Drover handles.
    public struct Event: Sendable {
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

        /// What a reaction was added to.
        public struct Item: Sendable {
            public var type: String
            public var channel: String?
            public var ts: String?
        }

        init(_ fields: JSONFields) throws(JSONShapeError) {
            type = try fields.string("type")
            user = try fields.optionalString("user")
            reaction = try fields.optionalString("reaction")
            itemUser = try fields.optionalString("item_user")
            item = try fields.optionalObject("item").map { item throws(JSONShapeError) in
                Item(type: try item.string("type"), channel: try item.optionalString("channel"), ts: try item.optionalString("ts"))
            }
            eventTS = try fields.optionalString("event_ts")
            fileID = try fields.optionalString("file_id")
            channelID = try fields.optionalString("channel_id")
            userID = try fields.optionalString("user_id")
        }
    }

    /// Reads an envelope from a request body.
    /// - Throws: ``JSONSyntaxError`` for a body that is not JSON, ``JSONShapeError`` for JSON that
    ///   is not an envelope (a field Drover reads is missing or of another type).
    public init(parsing body: some Collection<UInt8>) throws {
        let fields = try JSONFields(JSONValue(parsing: body))
        type = try fields.string("type")
        challenge = try fields.optionalString("challenge")
        teamID = try fields.optionalString("team_id")
        eventID = try fields.optionalString("event_id")
        event = try fields.optionalObject("event").map { event throws(JSONShapeError) in try Event(event) }
        authorizations = try fields.optionalObjects("authorizations")?.map { fields throws(JSONShapeError) in try Authorization(fields) }
    }

    /// The app's own bot user, from the delivery's authorizations.
    public var botUserID: String? {
        authorizations?.first(where: { $0.isBot == true })?.userID ?? authorizations?.first?.userID
    }
}

/// A 👍 / 👎 reaction added to or removed from a message, as the inbox stores it.
public struct ReactionChange: Sendable, Equatable {
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

extension ReactionChange {
    /// The inbox payload: a JSON object whose keys are the property names.
    public var payload: [UInt8] {
        var object = JSONObjectWriter()
        object.add("added", added)
        object.add("teamID", teamID)
        object.add("user", user)
        object.add("rating", rating.rawValue)
        object.add("channel", channel)
        object.add("messageTS", messageTS)
        if let eventTS { object.add("eventTS", eventTS) }
        return object.finish()
    }

    /// Reads an inbox payload written by ``payload``.
    public init(payload: some Collection<UInt8>) throws {
        let fields = try JSONFields(JSONValue(parsing: payload))
        guard let rating = Rating(rawValue: try fields.string("rating")) else { throw JSONShapeError.wrongType("rating") }
        self.added = try fields.bool("added")
        self.teamID = try fields.string("teamID")
        self.user = try fields.string("user")
        self.rating = rating
        self.channel = try fields.string("channel")
        self.messageTS = try fields.string("messageTS")
        self.eventTS = try fields.optionalString("eventTS")
    }
}
