import ArgumentParser
import DroverCore
import DroverDataset
import DroverServer
import Foundation
import Hummingbird
import Logging

@main
struct Drover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drover",
        abstract: "Turns 👍 / 👎 on generated images into a versioned training dataset.",
        subcommands: [
            Serve.self, Models.self, Log.self, Show.self, Revert.self, Import.self, Export.self, Push.self, Stats.self, Compare.self, Train.self, SlackCommand.self, OxenCommand.self,
        ]
    )
}

/// Options every command shares: where the settings come from.
struct SettingsOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A file of KEY=VALUE lines (DROVER_*, SLACK_*); the environment overrides it.")
    var configFile: String?

    @Option(help: "How rater pseudonyms are made: hmac-sha256, or sha256-6 for the seed tutorial's unsalted sha256(user)[:6] (overrides DROVER_RATER_HASH).")
    var raterHash: RaterPseudonymizer.Scheme?

    func load() throws -> DroverConfiguration {
        let contents = try configFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
        var configuration = try DroverConfiguration(environment: ProcessInfo.processInfo.environment, fileContents: contents)
        if let raterHash { configuration.raterScheme = raterHash }
        return configuration
    }

    /// The command's logger: standard error, at `LOG_LEVEL` (default `info`).
    func logger() -> Logger {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "drover")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server: web page, JSON API, inbox worker and committer.")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let configuration = try settings.load()
        let logger = settings.logger()
        let app = try await buildApplication(configuration, logger: logger)
        logger.info("serving", metadata: [
            "url": "http://\(configuration.host):\(configuration.port)/", "data_dir": "\(configuration.dataDirectory)",
        ])
        try await app.runService()
    }
}
