/// How Drover talks to Slack. Tokens and the secret are kept out of every description.
public struct SlackSettings: Sendable, CustomStringConvertible {
    /// The bot token, `xoxb-…`, for the Web API.
    public var botToken: String
    /// The app's signing secret: Slack over HTTP (`/slack/...` routes) when set.
    public var signingSecret: String?
    /// The app-level token, `xapp-…`: Socket Mode when set.
    public var appToken: String?
    /// The Web API base, `SLACK_API_URL`.
    public var apiURL: String
    /// The slash command Drover answers, `DROVER_SLASH_COMMAND`.
    public var slashCommand: String
    /// How often Socket Mode pings; a ping unanswered by the next one means reconnect.
    public var socketPingInterval: Duration
    /// Listener mode: the user id of another bot whose shared images are collected.
    public var listenBotUser: String?
    /// How many `/ox` requests may wait; past that a new one is told to try again in a minute.
    public var maxQueuedCommands: Int
    /// The digest posted to a channel every day or week (`DROVER_DIGEST_*`); `nil`: none.
    public var digest: DigestSettings?

    /// Reads the Slack settings; `nil` when Slack is not configured at all.
    /// - Throws: ``ConfigurationError`` for a half configuration.
    init?(_ value: (String) -> String?) throws(ConfigurationError) {
        let token = value("SLACK_BOT_TOKEN")
        let secret = value("SLACK_SIGNING_SECRET")
        let appToken = value("SLACK_APP_TOKEN")
        guard let token else {
            if secret != nil || appToken != nil {
                throw ConfigurationError("SLACK_BOT_TOKEN (xoxb-…) is needed with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN")
            }
            if value("DROVER_DIGEST_CHANNEL") != nil {
                throw ConfigurationError("DROVER_DIGEST_CHANNEL needs Slack: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN or SLACK_SIGNING_SECRET")
            }
            _ = try DigestSettings(value)  // a digest setting without the channel is still a mistake
            return nil
        }
        guard secret != nil || appToken != nil else {
            throw ConfigurationError("with SLACK_BOT_TOKEN, set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)")
        }
        if let appToken, !appToken.hasPrefix("xapp-") {
            throw ConfigurationError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        }
        botToken = token
        signingSecret = secret
        self.appToken = appToken
        apiURL = value("SLACK_API_URL") ?? "https://slack.com/api/"
        let command = value("DROVER_SLASH_COMMAND") ?? "/ox"
        slashCommand = command.hasPrefix("/") ? command : "/" + command
        let pingText = value("SLACK_SOCKET_PING_MS") ?? "10000"
        guard let ping = Int(pingText), ping >= 100 else {
            throw ConfigurationError("SLACK_SOCKET_PING_MS must be a whole number of milliseconds, at least 100")
        }
        socketPingInterval = .milliseconds(ping)
        listenBotUser = value("DROVER_LISTEN_BOT_USER")
        let queueText = value("DROVER_MAX_QUEUED_COMMANDS") ?? "20"
        guard let queue = Int(queueText), queue >= 1 else {
            throw ConfigurationError("DROVER_MAX_QUEUED_COMMANDS must be a whole number, at least 1")
        }
        maxQueuedCommands = queue
        digest = try DigestSettings(value)
    }

    public var description: String {
        "SlackSettings(apiURL: \(apiURL), slashCommand: \(slashCommand), http: \(signingSecret != nil), socketMode: \(appToken != nil), digest: \(digest.map { "\($0.schedule) to \($0.channel)" } ?? "off"))"
    }
}
