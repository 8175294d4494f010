import DroverCore

/// A `block_actions` interactivity payload (the JSON in the form field `payload`), reduced to
/// what a vote button needs.
public struct BlockActionsPayload: Decodable, Sendable {
    public var type: String
    public var user: User
    public var team: Team?
    public var container: Container?
    public var channel: Channel?
    public var actions: [Action]

    public struct User: Decodable, Sendable {
        public var id: String
        public var teamID: String?
        enum CodingKeys: String, CodingKey {
            case id
            case teamID = "team_id"
        }
    }
    public struct Team: Decodable, Sendable { public var id: String }
    public struct Channel: Decodable, Sendable { public var id: String }
    public struct Container: Decodable, Sendable {
        public var messageTS: String?
        public var channelID: String?
        enum CodingKeys: String, CodingKey {
            case messageTS = "message_ts"
            case channelID = "channel_id"
        }
    }
    public struct Action: Decodable, Sendable {
        public var actionID: String
        public var value: String?
        public var actionTS: String
        enum CodingKeys: String, CodingKey {
            case value
            case actionID = "action_id"
            case actionTS = "action_ts"
        }
    }
}

/// A click on one of Drover's vote buttons, as the inbox stores it.
public struct ButtonVote: Codable, Sendable, Equatable {
    public var teamID: String
    public var user: String
    public var imageID: ImageID
    public var rating: Rating
    public var actionTS: String

    /// The vote clicks in a payload; buttons that are not Drover's are skipped.
    public static func votes(in payload: BlockActionsPayload) -> [ButtonVote] {
        guard payload.type == "block_actions", let teamID = payload.team?.id ?? payload.user.teamID else { return [] }
        return payload.actions.compactMap { action in
            guard let rating = VoteButton.rating(forActionID: action.actionID),
                let value = action.value, let imageID = ImageID(validating: value)
            else { return nil }
            return ButtonVote(teamID: teamID, user: payload.user.id, imageID: imageID, rating: rating, actionTS: action.actionTS)
        }
    }
}
