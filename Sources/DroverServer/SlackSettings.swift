/// How Drover talks to Slack over HTTP. The token and secret are kept out of every description.
public struct SlackSettings: Sendable, CustomStringConvertible {
    /// The bot token, `xoxb-…`.
    public var botToken: String
    /// The app's signing secret, for verifying requests.
    public var signingSecret: String
    /// The Web API base, `SLACK_API_URL`.
    public var apiURL: String
    /// The slash command Drover answers, `DROVER_SLASH_COMMAND`.
    public var slashCommand: String

    /// Reads the Slack settings; `nil` when Slack is not configured (its routes then answer 404).
    /// - Throws: ``ConfigurationError`` when only one of the token and the secret is set.
    init?(_ value: (String) -> String?) throws(ConfigurationError) {
        let token = value("SLACK_BOT_TOKEN")
        let secret = value("SLACK_SIGNING_SECRET")
        guard let token, let secret else {
            if token != nil || secret != nil {
                throw ConfigurationError("set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to connect Slack over HTTP")
            }
            return nil
        }
        botToken = token
        signingSecret = secret
        apiURL = value("SLACK_API_URL") ?? "https://slack.com/api/"
        let command = value("DROVER_SLASH_COMMAND") ?? "/ox"
        slashCommand = command.hasPrefix("/") ? command : "/" + command
    }

    public var description: String { "SlackSettings(apiURL: \(apiURL), slashCommand: \(slashCommand))" }
}
