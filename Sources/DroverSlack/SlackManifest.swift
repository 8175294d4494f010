import Foundation

/// The Slack app manifest for Drover: paste it at api.slack.com/apps → Create New App → From a manifest.
public enum SlackManifest {
    /// The bot scopes Drover needs: run the slash command, post and update messages, upload
    /// images, and receive reactions.
    public static let botScopes = ["commands", "chat:write", "files:write", "reactions:read"]
    public static let botEvents = ["reaction_added", "reaction_removed"]

    /// The manifest as pretty-printed JSON.
    /// - Parameters:
    ///   - baseURL: where Drover is reachable from Slack (`https://drover.example.com`); its
    ///     `/slack/...` routes are named from it.
    ///   - command: the slash command, e.g. `/ox`.
    public static func json(baseURL: String, command: String) -> String {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let manifest: [String: Any] = [
            "display_information": [
                "name": "Drover",
                "description": "Generate images and vote 👍 / 👎: every vote becomes a commit in a training dataset.",
            ],
            "features": [
                "bot_user": ["display_name": "Drover", "always_online": true],
                "slash_commands": [[
                    "command": command, "url": "\(base)/slack/commands", "description": "Generate images to vote on",
                    "usage_hint": "[--n 4] [--seed 42] a fluffy ox eating almonds", "should_escape": false,
                ]],
            ],
            "oauth_config": ["scopes": ["bot": botScopes]],
            "settings": [
                "event_subscriptions": ["request_url": "\(base)/slack/events", "bot_events": botEvents],
                "interactivity": ["is_enabled": true, "request_url": "\(base)/slack/interactivity"],
                "org_deploy_enabled": false,
                "socket_mode_enabled": false,
                "token_rotation_enabled": false,
            ],
        ]
        let data = try! JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
