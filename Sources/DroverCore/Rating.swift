/// A rater's judgement of one image, spelled as the dataset's `rating` column spells it.
public enum Rating: String, Codable, Sendable, CaseIterable {
    case approve = "Approve"
    case disapprove = "Disapprove"
}

/// What a rater asks for: a rating, or to take their rating back.
public enum VoteChoice: String, Codable, Sendable, CaseIterable {
    case up
    case down
    case none

    /// The choice that asks for `rating`.
    public init(_ rating: Rating) {
        self = rating == .approve ? .up : .down
    }

    /// The rating this choice leaves active, or `nil` for a retraction.
    public var rating: Rating? {
        switch self {
        case .up: .approve
        case .down: .disapprove
        case .none: nil
        }
    }
}
