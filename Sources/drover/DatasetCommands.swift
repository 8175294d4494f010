import ArgumentParser
import DroverCore
import DroverDataset
import DroverServer
import DroverStore
import Foundation
import Logging

extension RaterPseudonymizer.Scheme: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the dataset's commits, newest first.")

    @OptionGroup var settings: SettingsOptions
    @Option(help: "Only commits that change a vote of this rater (the pseudonym in the rows).") var rater: String?
    @Option(help: "Only commits that add this image or change a vote on it (16 hex digits).") var image: String?
    @Option(help: "How many commits.") var limit = 50

    func run() async throws {
        let imageID = try image.map { text in
            guard let id = ImageID(validating: text) else { throw ValidationError("--image takes an image id: 16 lowercase hex digits") }
            return id
        }
        let history = DatasetHistory(directory: try settings.load().datasetDirectory)
        for commit in try await history.log(limit: limit, rater: rater, image: imageID) {
            print("\(commit.sha.prefix(10))  \(commit.date)  \(commit.subject)")
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one dataset commit: its message and the rows and images it changed.")

    @OptionGroup var settings: SettingsOptions
    @Argument(help: "A commit, tag or branch of the dataset.") var commit: String

    func run() async throws {
        let detail = try await DatasetHistory(directory: try settings.load().datasetDirectory).show(commit)
        print("commit \(detail.sha)")
        if detail.parents.count > 1 { print("merge  \(detail.parents.map { String($0.prefix(10)) }.joined(separator: " "))") }
        print("date   \(detail.date)\n")
        print(detail.message.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n"))
        if !detail.addedImages.isEmpty { print("\nimages added:\n" + detail.addedImages.map { "  + \($0)" }.joined(separator: "\n")) }
        if detail.imagesNotListed > 0 { print("  … and \(detail.imagesNotListed) more") }
        if detail.rowsNotListed > 0 { print("\n\(detail.rowsNotListed) lines of rows changed: too many to list (git show \(detail.sha.prefix(10)) has them)") }
        if !detail.addedRows.isEmpty || !detail.removedRows.isEmpty {
            print("\nrows (\(DatasetLayout.trainFolder)/):")
            for row in detail.removedRows { print("  - \(row)") }
            for row in detail.addedRows { print("  + \(row)") }
        }
    }
}

struct Revert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo votes: a new commit removes their rows and says why; the history keeps them.",
        discussion: """
            Give a vote event id (the numbers in a commit's Drover-Vote-Events trailer), a commit, \
            --rater or --since. The votes are retracted in the ledger (source "revert") and committed \
            together: by this command when no server runs, else by the server's committer, which this \
            command waits for. A revert takes rows out; it does not bring back an earlier rating.
            """
    )

    @OptionGroup var settings: SettingsOptions
    @Argument(help: "A vote event id or a dataset commit.") var target: String?
    @Option(help: "Revert every active vote of this rater (the pseudonym in the rows).") var rater: String?
    @Option(help: "Revert every active vote set at or after this time (ISO 8601, e.g. 2026-11-29T14:00:00Z).") var since: String?
    @Option(help: "Why; it becomes part of the commit's subject.") var reason: String

    func validate() throws {
        guard [target != nil, rater != nil, since != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of: a vote event id or commit, --rater, --since")
        }
    }

    func run() async throws {
        let configuration = try settings.load()
        let logger = settings.logger()
        let ledger = try Ledger(path: configuration.ledgerPath)
        let selection = try await selection(ledger: ledger, datasetDirectory: configuration.datasetDirectory)
        let result = try ledger.revert(selection, reason: reason)
        let commits = try await Committer.commit(
            changeSet: result.changeSet.id ?? 0, ledger: ledger, datasetDirectory: configuration.datasetDirectory, logger: logger
        )
        print("reverted \(counted(result.voteEvents.count, "vote")) \(selection) in \(commits.map { String($0.prefix(10)) }.joined(separator: ", "))")
    }

    /// A number that names a vote event is one; anything else must name a commit.
    private func selection(ledger: Ledger, datasetDirectory: String) async throws -> RevertSelection {
        if let rater { return .rater(rater) }
        if let since {
            guard let date = try? Date(since, strategy: .iso8601) else { throw ValidationError("--since takes an ISO 8601 time, like 2026-11-29T14:00:00Z") }
            return .since(date)
        }
        let target = target ?? ""
        if let id = Int64(target), try ledger.containsVoteEvent(id) { return .voteEvents([id]) }
        return .commit(try await DatasetHistory(directory: datasetDirectory).resolve(target))
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add votes from a CSV in the seed schema (prompt,path,rating,rater,model_version), with their images.",
        discussion: """
            Image paths are relative to the CSV's directory; PNGs found there are added to the \
            dataset. A row whose image is not there must name an image the dataset already has \
            (images/<shard>/<id>.png); otherwise the whole file is refused and nothing is imported.
            """
    )

    @OptionGroup var settings: SettingsOptions
    @Argument(help: "The CSV file.") var file: String

    func run() async throws {
        let configuration = try settings.load()
        let logger = settings.logger()
        let ledger = try Ledger(path: configuration.ledgerPath)
        let votes = try DatasetImporter(isKnown: { try ledger.containsImage($0) }).votes(fromCSV: file)
        let result = try ledger.importVotes(votes, scope: URL(filePath: file).lastPathComponent)
        guard !result.images.isEmpty || !result.voteEvents.isEmpty else {
            print("nothing new in \(file): the dataset already has these votes")
            return
        }
        let commits = try await Committer.commit(
            changeSet: result.changeSet.id ?? 0, ledger: ledger, datasetDirectory: configuration.datasetDirectory, logger: logger
        )
        let what = "\(counted(result.images.count, "image")) and \(counted(result.voteEvents.count, "vote"))"
        print("imported \(what) in \(commits.map { String($0.prefix(10)) }.joined(separator: ", "))")
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export the dataset as committed, in a training format.")

    @OptionGroup var settings: SettingsOptions
    @Option(help: "The format: \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")).") var format: ExportFormat
    @Option(help: "An empty or new directory to write to.") var out: String
    @Option(help: "The dataset revision to export (a commit, tag or branch).") var at = "HEAD"
    @Option(help: "Only votes on images of these model versions, comma-separated (A,B: a pairs export for Diffusion-DPO).")
    var versions: ModelVersionList?

    func run() async throws {
        let history = DatasetHistory(directory: try settings.load().datasetDirectory)
        let written = try await history.export(format, at: at, versions: versions?.names, to: out)
        print("wrote \(counted(written.records, "record")) (\(format.fileName)) and \(written.images) images of commit \(written.commit.prefix(10)) to \(out)")
    }
}

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Push the dataset to DROVER_DATASET_REMOTE now.")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let configuration = try settings.load()
        guard let remote = configuration.datasetRemote else { throw ValidationError("DROVER_DATASET_REMOTE is not set") }
        let pusher = DatasetPusher(directory: configuration.datasetDirectory, remote: remote, logger: settings.logger())
        print("pushed \(try await pusher.push().prefix(10))")
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approval rates per model version (95 % Wilson interval) and per rater, and inter-rater agreement."
    )

    @OptionGroup var settings: SettingsOptions
    @Flag(help: "Print JSON, as GET /api/stats answers.") var json = false

    func run() async throws {
        let configuration = try settings.load()
        let ledger = try Ledger(path: configuration.ledgerPath)
        let statistics = try ledger.statistics()
        if json { return try printJSON(statistics) }
        printVersionTable(statistics.modelVersions)
        print("\n| rater | votes | approval |\n|---|---:|---:|")
        for rater in statistics.raters { print("| \(rater.rater) | \(rater.votes) | \(percent(rater.approvalRate)) |") }
        let alpha = statistics.agreement.krippendorffAlpha.map { String(format: "%.3f", $0) } ?? "undefined"
        print("\nKrippendorff's alpha (nominal): \(alpha) over \(statistics.agreement.images) images rated by two or more raters")
        // With two versions or more getting traffic, the blinded comparison of the first two.
        let compared = configuration.generator.versions.filter { $0.weight > 0 }.prefix(2).map(\.name)
        if compared.count == 2 {
            let comparison = try ledger.comparison(of: compared[0], and: compared[1])
            print("\n\(compared[0]) vs \(compared[1]), blinded images only: \(comparison.summary)")
            print("(drover compare \(compared[0]) \(compared[1]) for the figures)")
        }
    }

}

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which of two model versions raters prefer, how sure that is, and how many more votes would settle it."
    )

    @OptionGroup var settings: SettingsOptions
    @Argument(help: "The model version to compare against (the model_version column).") var a: String
    @Argument(help: "The model version compared with it.") var b: String
    @Option(help: "The difference in approval, in points, that the planning figures are for.") var difference: Double = 10
    @Flag(help: "Also count images that were not blindly assigned: pinned with --model, older and imported ones.") var all = false
    @Flag(help: "Print JSON, as GET /api/compare answers.") var json = false

    func validate() throws {
        guard a != b else { throw ValidationError("give two different model versions") }
        guard difference > 0, difference < 100 else { throw ValidationError("--difference is in points, between 0 and 100") }
    }

    func run() async throws {
        let comparison = try Ledger(path: try settings.load().ledgerPath)
            .comparison(of: a, and: b, detectableDifference: difference / 100, blindedOnly: !all)
        if json { return try printJSON(comparison) }
        printVersionTable([comparison.a, comparison.b])
        print("")
        if let estimate = comparison.difference.estimate, let interval = comparison.difference.interval {
            print("\(b) − \(a): \(points(estimate)) (95 % Newcombe interval \(points(interval.lower)) to \(points(interval.upper)))")
        }
        if let probability = comparison.probabilityBBetter.probability {
            print("P(\(b) is approved more often than \(a)) = \(String(format: "%.3f", probability))")
        }
        let pairs = comparison.headToHead
        if pairs.pairs > 0 {
            print("Head to head (a rater's votes on both versions for one request): \(a) won \(pairs.aWins), \(b) won \(pairs.bWins), \(pairs.ties) tied, of \(pairs.pairs)")
        }
        print("\n\(comparison.summary)")
        for warning in comparison.warnings { print("- \(warning)") }
    }

    private func points(_ value: Double) -> String { String(format: "%+.1f points", value * 100) }
}

/// `value` as pretty JSON with sorted keys, as the HTTP API answers it.
private func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// The markdown table of model versions `drover stats` and `drover compare` print.
private func printVersionTable(_ versions: [DatasetStatistics.ModelVersion]) {
    print("| model_version | images | votes | approval | 95 % interval |\n|---|---:|---:|---:|---|")
    for version in versions {
        let interval = version.approvalInterval.map { "\(percent($0.lower)) – \(percent($0.upper))" } ?? "—"
        print("| \(version.modelVersion) | \(version.images) | \(version.votes) | \(version.approvalRate.map(percent) ?? "—") | \(interval) |")
    }
}

/// `0.754` as `75.4 %`.
private func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }
