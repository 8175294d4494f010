import ArgumentParser
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
        subcommands: [Serve.self, Log.self, Export.self, SlackCommand.self]
    )
}

/// Options every command shares: where the settings come from.
struct SettingsOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A file of KEY=VALUE lines (DROVER_*, SLACK_*); the environment overrides it.")
    var configFile: String?

    func load() throws -> DroverConfiguration {
        let contents = try configFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
        return try DroverConfiguration(environment: ProcessInfo.processInfo.environment, fileContents: contents)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server: web page, JSON API, inbox worker and committer.")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let configuration = try settings.load()
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "drover")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let app = try await buildApplication(configuration, logger: logger)
        logger.info("serving", metadata: [
            "url": "http://\(configuration.host):\(configuration.port)/", "data_dir": "\(configuration.dataDirectory)",
        ])
        try await app.runService()
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the dataset's commits, newest first.")

    @OptionGroup var settings: SettingsOptions
    @Option(help: "How many commits.") var limit = 50

    func run() async throws {
        let history = DatasetHistory(directory: try settings.load().datasetDirectory)
        for commit in try await history.log(limit: limit) {
            print("\(commit.sha.prefix(10))  \(commit.date)  \(commit.subject)")
        }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export the dataset as committed, in a training format.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case seedCSV = "seed-csv"
    }

    @OptionGroup var settings: SettingsOptions
    @Option(help: "The format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).") var format: Format
    @Option(help: "An empty or new directory to write to.") var out: String
    @Option(help: "The dataset revision to export (a commit, tag or branch).") var at = "HEAD"

    func run() async throws {
        let history = DatasetHistory(directory: try settings.load().datasetDirectory)
        switch format {
        case .seedCSV:
            let written = try await history.exportSeedCSV(at: at, to: out)
            print("wrote \(written.rows) rows and \(written.images) images to \(out)")
        }
    }
}
