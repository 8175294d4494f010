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

        @Option(help: "Where Slack reaches Drover over HTTPS, e.g. https://drover.example.com.")
        var url: String

        @Option(help: "The slash command.")
        var command = ProcessInfo.processInfo.environment["DROVER_SLASH_COMMAND"] ?? "/ox"

        func validate() throws {
            guard let parsed = URL(string: url), parsed.scheme == "https" || parsed.scheme == "http", parsed.host() != nil else {
                throw ValidationError("--url must be an http(s) URL, such as https://drover.example.com")
            }
        }

        func run() {
            print(SlackManifest.json(baseURL: url, command: command.hasPrefix("/") ? command : "/" + command))
        }
    }
}
