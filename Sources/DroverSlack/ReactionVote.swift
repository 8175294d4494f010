import DroverCore

/// Which reactions are votes: 👍 (`+1`, `thumbsup`) approves, 👎 (`-1`, `thumbsdown`)
/// disapproves, with or without a skin tone (`+1::skin-tone-3`). Every other emoji is not a vote.
public enum ReactionVote {
    /// The rating a reaction stands for, or `nil` if it is not a vote.
    public static func rating(for reaction: String) -> Rating? {
        let name = reaction.split(separator: "::", maxSplits: 1).first.map(String.init) ?? reaction
        switch name {
        case "+1", "thumbsup": return .approve
        case "-1", "thumbsdown": return .disapprove
        default: return nil
        }
    }
}
