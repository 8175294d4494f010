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
        let base = options.baseURL
        let manifest = Manifest(
            displayInformation: .init(
                name: "Drover", description: "Generate images and vote 👍 / 👎: every vote becomes a commit in a training dataset."
            ),
            features: .init(
                botUser: .init(displayName: "Drover", alwaysOnline: true),
                slashCommands: [.init(
                    command: options.command, description: "Generate images to vote on",
                    usageHint: "[--n 4] [--seed 42] a fluffy ox eating almonds", shouldEscape: false, url: base.map { "\($0)/slack/commands" }
                )]
            ),
            oauthConfig: .init(scopes: .init(bot: botScopes(listener: options.listener))),
            settings: .init(
                eventSubscriptions: .init(botEvents: botEvents(listener: options.listener), requestURL: base.map { "\($0)/slack/events" }),
                interactivity: .init(isEnabled: true, requestURL: base.map { "\($0)/slack/interactivity" }),
                orgDeployEnabled: false, socketModeEnabled: base == nil, tokenRotationEnabled: false
            )
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding these plain values cannot fail.
        return String(decoding: try! encoder.encode(manifest), as: UTF8.self)
    }

    // MARK: - The manifest's shape (keys are Slack's, in snake case)

    struct Manifest: Encodable {
        var displayInformation: DisplayInformation
        var features: Features
        var oauthConfig: OAuthConfig
        var settings: Settings
    }

    struct DisplayInformation: Encodable {
        var name: String
        var description: String
    }

    struct Features: Encodable {
        var botUser: BotUser
        var slashCommands: [SlashCommand]

        struct BotUser: Encodable {
            var displayName: String
            var alwaysOnline: Bool
        }

        struct SlashCommand: Encodable {
            var command: String
            var description: String
            var usageHint: String
            var shouldEscape: Bool
            var url: String?
        }
    }

    struct OAuthConfig: Encodable {
        var scopes: Scopes
        struct Scopes: Encodable { var bot: [String] }
    }

    struct Settings: Encodable {
        var eventSubscriptions: EventSubscriptions
        var interactivity: Interactivity
        var orgDeployEnabled: Bool
        var socketModeEnabled: Bool
        var tokenRotationEnabled: Bool

        struct EventSubscriptions: Encodable {
            var botEvents: [String]
            var requestURL: String?
        }

        struct Interactivity: Encodable {
            var isEnabled: Bool
            var requestURL: String?
        }
    }
}
