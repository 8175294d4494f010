import ArgumentParser
import DroverSlack
import Foundation

/// `drover slack …`: help with connecting a Slack app.
struct SlackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slack",
        abstract: "Connect Drover to Slack.",
        subcommands: [Manifest.self]
    )

    struct Manifest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the Slack app manifest: paste it at api.slack.com/apps → Create New App → From a manifest."
        )

        @Flag(help: "Socket Mode: no public URL needed (recommended for a team).")
        var socketMode = false

        @Option(help: "Where Slack reaches Drover over HTTPS, e.g. https://drover.example.com (not with --socket-mode).")
        var url: String?

        @Flag(help: "Listener mode: also collect images that another bot shares (DROVER_LISTEN_BOT_USER).")
        var listen = false

        @Option(help: "The slash command.")
        var command = ProcessInfo.processInfo.environment["DROVER_SLASH_COMMAND"] ?? "/ox"

        func validate() throws {
            switch (socketMode, url) {
            case (true, .some): throw ValidationError("give either --socket-mode or --url, not both")
            case (false, .none): throw ValidationError("give --socket-mode (no public URL) or --url https://your.host")
            case (false, .some(let url)):
                guard let parsed = URL(string: url), parsed.scheme == "https" || parsed.scheme == "http", parsed.host() != nil else {
                    throw ValidationError("--url must be an http(s) URL, such as https://drover.example.com")
                }
            case (true, .none): break
            }
        }

        func run() {
            let slash = command.hasPrefix("/") ? command : "/" + command
            print(SlackManifest.json(.init(baseURL: socketMode ? nil : url, command: slash, listener: listen)))
        }
    }
}
