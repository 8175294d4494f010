import DroverStore
import Foundation

/// Votes from the web page and the JSON API: the item holds the ``VoteCommand`` itself.
struct WebVotes: VoteSource {
    static let kind = "vote"
    var kind: String { Self.kind }

    func decision(for item: InboxItem) throws -> VoteDecision {
        let command = try JSONDecoder().decode(VoteCommand.self, from: item.payload)
        return { _ in command }
    }
}
