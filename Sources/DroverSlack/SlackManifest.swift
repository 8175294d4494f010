import Foundation

/// The Slack app manifest for Drover: paste it at api.slack.com/apps → Create New App → From a manifest.
public enum SlackManifest {
    /// How the app will reach Drover, and what it listens to.
    public struct Options: Sendable {
        /// Where Slack reaches Drover over HTTPS; `nil` for Socket Mode, which needs no URL.
        public var baseURL: String?
        /// The slash command, e.g. `/ox`.
        public var command: String
        /// Listener mode: also receive `file_shared` and read files, to collect another bot's images.
        public var listener: Bool

        public init(baseURL: String?, command: String, listener: Bool = false) {
            self.baseURL = baseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            self.command = command
            self.listener = listener
        }
    }

    /// The bot scopes Drover needs: run the slash command, post and update messages, upload
    /// images, receive reactions — and, in listener mode, read shared files.
    public static func botScopes(listener: Bool) -> [String] {
        ["commands", "chat:write", "files:write", "reactions:read"] + (listener ? ["files:read"] : [])
    }

    /// The bot events Drover subscribes to.
    public static func botEvents(listener: Bool) -> [String] {
        ["reaction_added", "reaction_removed"] + (listener ? ["file_shared"] : [])
    }

    /// The manifest as pretty-printed JSON.
    public static func json(_ options: Options) -> String {
        var slashCommand: [String: Any] = [
            "command": options.command, "description": "Generate images to vote on",
            "usage_hint": "[--n 4] [--seed 42] a fluffy ox eating almonds", "should_escape": false,
        ]
        var events: [String: Any] = ["bot_events": botEvents(listener: options.listener)]
        var interactivity: [String: Any] = ["is_enabled": true]
        if let base = options.baseURL {
            slashCommand["url"] = "\(base)/slack/commands"
            events["request_url"] = "\(base)/slack/events"
            interactivity["request_url"] = "\(base)/slack/interactivity"
        }
        let manifest: [String: Any] = [
            "display_information": [
                "name": "Drover",
                "description": "Generate images and vote 👍 / 👎: every vote becomes a commit in a training dataset.",
            ],
            "features": [
                "bot_user": ["display_name": "Drover", "always_online": true],
                "slash_commands": [slashCommand],
            ],
            "oauth_config": ["scopes": ["bot": botScopes(listener: options.listener)]],
            "settings": [
                "event_subscriptions": events,
                "interactivity": interactivity,
                "org_deploy_enabled": false,
                "socket_mode_enabled": options.baseURL == nil,
                "token_rotation_enabled": false,
            ],
        ]
        let data = try! JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
