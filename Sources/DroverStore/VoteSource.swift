import GRDB

/// Where a vote came from: the `source` of every vote event and of its row in `train.csv`.
public enum VoteSource: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// The web page or the JSON API.
    case web
    /// A 👍 / 👎 reaction on a Slack message.
    case slackReaction = "slack-reaction"
    /// A vote button on a Slack message.
    case slackButton = "slack-button"
    /// A rating taken back by `drover revert`.
    case revert
    /// A row brought in by `drover import`.
    case `import`
}
