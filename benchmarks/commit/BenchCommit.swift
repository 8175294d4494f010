import DroverCore
import DroverDataset
import DroverGit
import DroverStore
import Foundation
import Logging
import ServiceLifecycle

/// `swift run -c release drover-bench-commit [--sizes 1000,10000,100000] [--commits 100]
/// [--oxen-commits 20] [--sustain-seconds 10] [--clients 32] [--python .venv/bin/python]`, from the repository's root
/// (the end-to-end run drives the server with wrk and `votes.lua`); `--growth-sizes 1000,…` for
/// the costs as the dataset grows (``GrowthRun``), and `--kept DIR` to measure them again on a
/// dataset such a run kept.
///
/// Per-change commit latency at each size of `train.csv`, Drover's committer side by side with
/// plain `git add && git commit` of the same file and with a local Oxen repository (`oxenai`,
/// add + commit per vote); sustained votes per second through the whole server under group
/// commit, and the committer's own capacity; the repository's size
/// after `git gc`. Prints a markdown table.
@main
struct BenchCommit {
    static func main() async throws {
        if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--serve-startup" {
            LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
            try await GrowthRun.reportStartup(CommandLine.arguments[2])
        }
        let options = try Options(CommandLine.arguments.dropFirst())
        // BENCH_LOG=1 shows the committer's log: each commit with its time spent writing files and in git.
        if ProcessInfo.processInfo.environment["BENCH_LOG"] == "1" {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
        } else {
            LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        }
        if let kept = options.kept {
            say(GrowthRun.table([try await GrowthRun.measureKept(kept, commits: options.commits)]))
            return
        }
        let root = FileManager.default.temporaryDirectory.appending(path: "drover-bench-\(UUID().uuidString)").path
        // BENCH_KEEP=1 leaves the datasets and ledgers behind, to look into (`drover serve` on one).
        defer { if ProcessInfo.processInfo.environment["BENCH_KEEP"] != "1" { try? FileManager.default.removeItem(atPath: root) } }
        if !options.growthSizes.isEmpty {
            say("growth: \(options.commits) image and vote commits per size, in \(root)\n")
            var results: [GrowthRun.Result] = []
            for images in options.growthSizes {
                results.append(try await GrowthRun.measure(images: images, commits: options.commits, in: "\(root)/growth-\(images)"))
                say("measured \(images) images")
            }
            say()
            say(GrowthRun.table(results))
            return
        }
        say("commit benchmark: \(options.commits) commits per size (Oxen: \(options.oxenCommits)), images of \(Workload.imageBytes) bytes, in \(root)\n")
        var results: [SizeResult] = []
        for rows in options.sizes {
            let workload = Workload(rows: rows)
            let drover = try await DroverRun.measure(workload, commits: options.commits, method: .objects, in: "\(root)/drover-\(rows)")
            let before = try await DroverRun.measure(workload, commits: options.commits, method: .gitCommands, in: "\(root)/before-\(rows)")
            let git = try await PlainGitRun.measure(workload, commits: options.commits, in: "\(root)/git-\(rows)")
            let oxen = await OxenRun.measure(workload, commits: options.oxenCommits, python: options.python, in: "\(root)/oxen-\(rows)")
            results.append(SizeResult(rows: rows, drover: drover, before: before, git: git, oxen: oxen))
            say("measured \(rows) rows: Drover p50 \(drover.p50) ms (before: \(before.p50) ms), git p50 \(git.p50) ms, Oxen p50 \(oxen.map { "\($0.p50) ms" } ?? "n/a")")
        }
        // `git gc` deletes thousands of loose objects, which makes creating files slow for a
        // while on some filesystems (ext4 without a journal looks past recently freed inodes):
        // the stores are measured once every latency has been.
        for index in results.indices {
            for keyPath in [\SizeResult.drover, \.before, \.git] { try await results[index][keyPath: keyPath].measureStore() }
        }
        let sustainRows = options.sizes.contains(10_000) ? 10_000 : options.sizes[0]
        let sustained = try await EndToEndRun.measure(
            Workload(rows: sustainRows), seconds: options.sustainSeconds, clients: options.clients, in: "\(root)/sustained"
        )
        let drained = try await Sustained.drain(Workload(rows: sustainRows), votes: 20_000, in: "\(root)/drain")
        say()
        say(Report.table(results, sustained: sustained, drained: drained))
    }
}

/// Prints a line at once (standard output may be a pipe).
func say(_ text: String = "") {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct Options {
    var sizes = [1_000, 10_000, 100_000]
    /// `--growth-sizes`: measure only the costs as the dataset grows, at these numbers of images.
    var growthSizes: [Int] = []
    /// `--kept DIR`: the growth measurements but the preload, on a dataset a growth run kept.
    var kept: String?
    var commits = 100
    var oxenCommits = 20
    var sustainSeconds = 10.0
    var clients = 32
    var python = FileManager.default.currentDirectoryPath + "/.venv/bin/python"

    init(_ arguments: ArraySlice<String>) throws {
        var iterator = arguments.makeIterator()
        while let name = iterator.next() {
            guard let value = iterator.next() else { throw BenchError("\(name) needs a value") }
            switch name {
            case "--sizes": sizes = value.split(separator: ",").compactMap { Int($0) }
            case "--growth-sizes": growthSizes = value.split(separator: ",").compactMap { Int($0) }
            case "--kept": kept = value
            case "--commits": commits = Int(value) ?? commits
            case "--oxen-commits": oxenCommits = Int(value) ?? oxenCommits
            case "--sustain-seconds": sustainSeconds = Double(value) ?? sustainSeconds
            case "--clients": clients = Int(value) ?? clients
            case "--python": python = value.hasPrefix("/") ? value : FileManager.default.currentDirectoryPath + "/" + value
            default: throw BenchError("unknown option \(name)")
            }
        }
        guard !sizes.isEmpty, commits > 1 else { throw BenchError("--sizes needs a size and --commits at least 2") }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `rows` votes: `images` images × `raters` raters, and the votes the measured commits add.
struct Workload {
    static let imageBytes = 4_096
    let rows: Int
    let images: Int
    var raters: Int { rows / images }
    /// Random, so incompressible, bytes standing in for each image's PNG (the committer never decodes them).
    private let pngs: [Data]

    init(rows: Int) {
        self.rows = rows
        images = max(rows / 100, 1)
        pngs = (0..<images).map { _ in Data((0..<Self.imageBytes).map { _ in UInt8.random(in: 0...255) }) }
    }

    func png(_ index: Int) -> Data { pngs[index] }

    func rating(image: Int, rater: Int) -> Rating { (image * 31 + rater * 17) % 5 < 3 ? .approve : .disapprove }

    /// The measured change number `k`: a new rater on an image (a row appended), or every other
    /// time an existing rater changing their mind (a row rewritten in place).
    func change(_ k: Int) -> (image: Int, rater: String, choice: VoteChoice) {
        if k.isMultiple(of: 2) { return (k % images, "new-\(k)", .up) }
        let image = (k * 7) % images, rater = (k * 13) % raters
        return (image, "r\(rater)", VoteChoice(rating(image: image, rater: rater) == .approve ? .disapprove : .approve))
    }
}

/// Latency percentiles in milliseconds, and the store's size after gc against the data's.
struct Measurement {
    var p50: Double
    var p99: Double
    var storeBytes = 0
    var dataBytes = 0
    /// The git repository whose sizes ``measureStore()`` measures.
    var repository: String?

    init(_ times: [Duration], repository: String? = nil) {
        let sorted = times.map { Double($0.components.seconds) * 1_000 + Double($0.components.attoseconds) / 1e15 }.sorted()
        p50 = Self.rounded(sorted[sorted.count / 2])
        p99 = Self.rounded(sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)])
        self.repository = repository
    }

    /// The repository's size after `git gc`, and its data's.
    mutating func measureStore() async throws {
        guard let repository else { return }
        storeBytes = try await Sizes.afterGC(repository)
        dataBytes = try Sizes.data(repository)
    }

    init(p50: Double, p99: Double, storeBytes: Int, dataBytes: Int) {
        (self.p50, self.p99, self.storeBytes, self.dataBytes) = (p50, p99, storeBytes, dataBytes)
    }

    static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}

struct SizeResult {
    var rows: Int
    var drover: Measurement
    /// The committer as it was: `git add`, `git commit`, `git rev-parse` per commit.
    var before: Measurement
    var git: Measurement
    var oxen: Measurement?
}

/// Drover's committer: the ledger preloaded with `rows` votes committed at once, then one vote
/// per commit, timed from the committer's call to its return.
enum DroverRun {
    static func measure(
        _ workload: Workload, commits: Int, method: DatasetRepository.CommitMethod, in directory: String
    ) async throws -> Measurement {
        let (ledger, repository, imageIDs) = try await preload(workload, method: method, in: directory)
        let committer = Committer(ledger: ledger, repository: repository, doorbell: Doorbell(), logger: Logger(label: "bench"))
        try await committer.commitPending()
        var times: [Duration] = []
        for k in 0..<commits {
            let change = workload.change(k)
            try await ledger.apply([
                VoteCommand(imageID: imageIDs[change.image], rater: change.rater, choice: change.choice, source: .web, occurredAt: Date())
            ])
            let started = ContinuousClock.now
            try await committer.commitAll()
            times.append(ContinuousClock.now - started)
        }
        return Measurement(times, repository: repository.directory)
    }

    /// A ledger and dataset holding `workload.rows` committed votes.
    static func preload(
        _ workload: Workload, method: DatasetRepository.CommitMethod = .objects, in directory: String
    ) async throws -> (Ledger, DatasetRepository, [ImageID]) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ledger = try Ledger(path: directory + "/drover.sqlite")
        let repository = try await DatasetRepository.open(at: directory + "/dataset", commitMethod: method)
        let generation = GenerationRecord(
            id: "bench", prompt: "a fluffy ox eating almonds", negativePrompt: nil, steps: 30, guidanceScale: 7.5, width: 512, height: 512,
            model: "bench", modelVersion: "0-1", backend: "procedural", requestedBy: "bench", createdAt: Date()
        )
        let images = (0..<workload.images).map { index in
            ImageRecord(id: ImageID(pngBytes: workload.png(index)), generationID: "bench", position: index, seed: UInt32(index), png: workload.png(index), postedTo: nil, createdAt: Date())
        }
        let ids = try ledger.record([generation], images: images)
        try await ledger.apply((0..<workload.images).flatMap { image in
            (0..<workload.raters).map { rater in
                let choice = VoteChoice(workload.rating(image: image, rater: rater))
                return VoteCommand(imageID: ids[image], rater: "r\(rater)", choice: choice, source: .web, occurredAt: Date())
            }
        })
        let loader = Committer(
            ledger: ledger, repository: repository, doorbell: Doorbell(), maxChangesPerCommit: workload.rows + workload.images, logger: Logger(label: "bench")
        )
        try await loader.commitPending()
        return (ledger, repository, ids)
    }
}

/// The same file committed with plain `git add && git commit`, one vote per commit.
enum PlainGitRun {
    static func measure(_ workload: Workload, commits: Int, in directory: String) async throws -> Measurement {
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        let git = Git(directory: directory)
        try await git.run(["init", "-q", "-b", "main"])
        for image in 0..<workload.images {
            try workload.png(image).write(to: URL(filePath: "\(directory)/images/\(ImageID(pngBytes: workload.png(image))).png"))
        }
        var rows = Self.rows(workload)
        try write(rows, to: directory)
        try await git.run(["add", "-A"])
        try await git.run(["commit", "-q", "-m", "preload"])
        var times: [Duration] = []
        for k in 0..<commits {
            let change = workload.change(k)
            let started = ContinuousClock.now
            let key = "\(change.image)|\(change.rater)"
            let line = CSV.line(["a fluffy ox eating almonds", "images/\(change.image).png", change.choice.rating?.rawValue ?? "", change.rater, "0-1", Timestamp.iso8601(Date()), "bench"])
            if let index = rows.keys[key] { rows.lines[index] = line } else { rows.keys[key] = rows.lines.count; rows.lines.append(line) }
            try write(rows, to: directory)
            try await git.run(["add", "train.csv"])
            try await git.run(["commit", "-q", "-m", "vote \(k)"])
            times.append(ContinuousClock.now - started)
        }
        return Measurement(times, repository: directory)
    }

    static func rows(_ workload: Workload) -> (lines: [String], keys: [String: Int]) {
        var lines: [String] = [], keys: [String: Int] = [:]
        for image in 0..<workload.images {
            for rater in 0..<workload.raters {
                keys["\(image)|r\(rater)"] = lines.count
                lines.append(CSV.line([
                    "a fluffy ox eating almonds", "images/\(image).png", workload.rating(image: image, rater: rater).rawValue, "r\(rater)", "0-1",
                    Timestamp.iso8601(Date()), "bench",
                ]))
            }
        }
        return (lines, keys)
    }

    static func write(_ rows: (lines: [String], keys: [String: Int]), to directory: String) throws {
        try Data((CSV.line(TrainingRow.columns) + rows.lines.joined()).utf8).write(to: URL(filePath: directory + "/train.csv"))
    }
}

/// A local Oxen repository (`oxenai` from PyPI, the seed tutorial's store), add + commit per vote,
/// driven by `oxen_bench.py`; `nil` when oxenai is not installed or fails.
enum OxenRun {
    static func measure(_ workload: Workload, commits: Int, python: String, in directory: String) async -> Measurement? {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try PlainGitRun.write(PlainGitRun.rows(workload), to: directory)
            let script = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "oxen_bench.py").path
            let output = try await Command.run(python, [script, directory, "\(commits)"], in: directory)
            let json = try JSONSerialization.jsonObject(with: Data(output.split(separator: "\n").last.map { Array($0.utf8) } ?? [])) as? [String: Any]
            guard let times = json?["times_ms"] as? [Double], let store = json?["store_bytes"] as? Int, let data = json?["data_bytes"] as? Int else { return nil }
            let sorted = times.sorted()
            return Measurement(
                p50: Measurement.rounded(sorted[sorted.count / 2]),
                p99: Measurement.rounded(sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]),
                storeBytes: store, dataBytes: data
            )
        } catch {
            say("Oxen skipped: \(error)")
            return nil
        }
    }
}

/// The committer's own capacity, without the server around it (``EndToEndRun`` measures the whole).
enum Sustained {
    struct Result {
        var rows: Int
        var votes: Int
        var commits: Int
        var seconds: Double
    }

    /// The committer's own capacity: `votes` votes waiting in the ledger, committed in group
    /// commits of at most 1,000.
    static func drain(_ workload: Workload, votes: Int, in directory: String) async throws -> Result {
        let (ledger, repository, ids) = try await DroverRun.preload(workload, in: directory)
        try await ledger.apply((0..<votes).map { vote in
            VoteCommand(imageID: ids[vote % ids.count], rater: "d\(vote)", choice: .up, source: .web, occurredAt: Date())
        })
        let committer = Committer(ledger: ledger, repository: repository, doorbell: Doorbell(), logger: Logger(label: "bench"))
        let started = ContinuousClock.now
        let commits = try await committer.commitPending().count
        let elapsed = ContinuousClock.now - started
        return Result(rows: workload.rows, votes: votes, commits: commits, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

enum Sizes {
    /// The repository's `.git` after `git gc`.
    static func afterGC(_ directory: String) async throws -> Int {
        try await Git(directory: directory).run(["gc", "-q"])
        return try bytes(under: directory + "/.git")
    }

    /// The working tree without `.git` / `.oxen`.
    static func data(_ directory: String) throws -> Int {
        try bytes(under: directory) - bytes(under: directory + "/.git")
    }

    static func bytes(under directory: String) throws -> Int {
        guard let files = FileManager.default.enumerator(at: URL(filePath: directory), includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey]) else { return 0 }
        var total = 0
        for case let file as URL in files {
            let values = try file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
            if values.isRegularFile == true { total += values.fileSize ?? 0 }
        }
        return total
    }
}

enum Report {
    static func table(_ results: [SizeResult], sustained: EndToEndRun.Result, drained: Sustained.Result) -> String {
        var out = "| rows in train.csv | Drover p50 / p99 (ms) | Drover before: git add + commit + rev-parse (ms) | plain git add+commit p50 / p99 (ms) | Oxen add+commit p50 / p99 (ms) | before ÷ Drover (p50) | git ÷ Drover (p50) | Oxen ÷ Drover (p50) | store after gc ÷ data: Drover / git / Oxen |\n"
        out += "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        for result in results {
            let oxen = result.oxen
            out += "| \(result.rows.formatted()) | \(result.drover.p50) / \(result.drover.p99) | \(result.before.p50) / \(result.before.p99) | "
            out += "\(result.git.p50) / \(result.git.p99) | \(oxen.map { "\($0.p50) / \($0.p99)" } ?? "n/a") | "
            out += "\(ratio(result.before.p50, result.drover.p50)) | \(ratio(result.git.p50, result.drover.p50)) | "
            out += "\(oxen.map { ratio($0.p50, result.drover.p50) } ?? "n/a") | "
            out += "\(ratio(result.drover)) / \(ratio(result.git)) / \(oxen.map(ratio) ?? "n/a") |\n"
        }
        out += "\nSustained under group commit at \(sustained.rows.formatted()) rows, through `drover serve` "
        out += "(wrk, \(sustained.clients) connections posting to /api/votes; from the first request to the commit of the last vote): "
        out += line(votes: sustained.votes, seconds: sustained.seconds, commits: sustained.commits)
        out += "  acknowledgement latency p50 \(String(format: "%.1f", sustained.p50)) ms, p99 \(String(format: "%.1f", sustained.p99)) ms\n"
        out += "\nThe committer alone, draining votes waiting in the ledger at \(drained.rows.formatted()) rows: "
        out += line(votes: drained.votes, seconds: drained.seconds, commits: drained.commits)
        return out
    }

    static func line(votes: Int, seconds: Double, commits: Int) -> String {
        "\(votes.formatted()) votes in \(String(format: "%.1f", seconds)) s = **\(Int(Double(votes) / seconds).formatted()) votes/s**, "
            + "\(commits) commits (\(String(format: "%.1f", Double(votes) / Double(max(commits, 1)))) votes per commit)\n"
    }

    static func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.1f×", a / max(b, 0.001)) }
    static func ratio(_ m: Measurement) -> String { String(format: "%.2f×", Double(m.storeBytes) / Double(max(m.dataBytes, 1))) }
}
