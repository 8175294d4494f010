import DroverCore

/// Which reactions are votes: 👍 (`+1`, `thumbsup`) approves, 👎 (`-1`, `thumbsdown`)
/// disapproves, with or without a skin tone (`+1::skin-tone-3`). Every other emoji is not a vote.
public enum ReactionVote {
    /// The rating a reaction stands for, or `nil` if it is not a vote.
    public static func rating(for reaction: String) -> Rating? {
        // Emoji names have no colon, so the first one starts the skin tone.
        let name = reaction.utf8.firstIndex(of: UInt8(ascii: ":")).map { reaction[..<$0] } ?? reaction[...]
        switch name {
        case "+1", "thumbsup": return .approve
        case "-1", "thumbsdown": return .disapprove
        default: return nil
        }
    }
}
