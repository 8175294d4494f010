import AsyncHTTPClient
import DroverCore
import DroverDataset
import DroverGit
import DroverServer
import DroverStore
import Foundation
import Logging
import NIOHTTP1
import NIOCore
import ServiceLifecycle

/// What it costs to add to a dataset as it grows (`--growth-sizes`): a dataset of N images, each
/// with one vote (N rows), committed and packed with `git gc`; then, one change per commit, the
/// latency of an image commit and of a vote commit and the bytes each adds to the repository (its
/// new pack); `drover export --format seed-csv` at N rows; the ledger's size; `drover
/// serve`'s start-up time and resident memory in a process of its own; the latency of the JSON
/// routes the page reads; and `drover serve`'s start-up after a crash.
enum GrowthRun {
    struct Result {
        var images: Int
        var imageCommit: Measurement
        /// Rewriting `.git/index`, which the service does when idle, not per commit.
        var indexWrite: Measurement
        /// Median bytes of new objects per image commit.
        var imageBytes: Int
        var voteCommit: Measurement
        var voteBytes: Int
        var exportSeconds: Double
        var ledgerBytes: Int
        /// `drover serve` on the dataset after a clean stop: seconds until it listens, then until
        /// its committer has loaded the dataset (commits wait for that, votes do not), and its
        /// resident memory then.
        var startupSeconds: Double
        var loadedSeconds: Double
        var rssBytes: Int
        /// The same after a crash halfway through a commit (a provenance line half written), when
        /// the working tree is reset first.
        var crashStartupSeconds: Double
        var crashLoadedSeconds: Double
        /// p50 / p99 milliseconds per route.
        var routes: [(route: String, latency: Measurement)]
    }

    /// The routes timed, as the page calls them.
    static let routes = [
        "/api/images?limit=48", "/api/stats", "/api/commits?limit=20", "/healthz", "/api/dashboard/overview",
        "/api/dashboard/images?limit=24&sort=lowest_approval", "/api/dashboard/images?limit=24&state=disputed",
        "/api/dashboard/images?limit=24&q=almonds", "/api/dashboard/raters?limit=20", "/api/dashboard/history?limit=20",
    ]

    static func measure(images: Int, commits: Int, in directory: String) async throws -> Result {
        try await measure(images: images, commits: commits, in: directory) {
            let (ledger, repository) = try await preload(images: images, in: directory)
            try await Git(directory: repository.directory).run(["gc", "-q"])
            return (ledger, repository)
        }
    }

    /// `--kept DIR`: all but the preload, on the dataset and ledger a growth run kept
    /// (`BENCH_KEEP=1`): measuring again without building a million images again.
    static func measureKept(_ directory: String, commits: Int) async throws -> Result {
        let images = try await Git(directory: directory + "/dataset").run(["ls-tree", "-r", "--name-only", "HEAD", "--", "images"], outputLimit: 1 << 30)
        return try await measure(images: images.split(separator: "\n").count, commits: commits, in: directory) {
            (try Ledger(path: directory + "/drover.sqlite"), try await DatasetRepository.open(at: directory + "/dataset"))
        }
    }

    private static func measure(
        images: Int, commits: Int, in directory: String, opening open: () async throws -> (Ledger, DatasetRepository)
    ) async throws -> Result {
        // The dataset is closed (its lock released) when `commitLoop` returns, before the server opens it.
        let (imageCommit, imageBytes, voteCommit, voteBytes, indexWrite) = try await commitLoop(try await open(), commits: commits)
        let dataset = directory + "/dataset"
        let export = directory + "/export"
        let exportStarted = ContinuousClock.now
        _ = try await DatasetHistory(directory: dataset).export(.seedCSV, to: export)
        let exportSeconds = seconds(ContinuousClock.now - exportStarted)
        try? FileManager.default.removeItem(atPath: export)

        let ledgerBytes = ["", "-wal"].reduce(0) { total, suffix in
            total + ((try? FileManager.default.attributesOfItem(atPath: directory + "/drover.sqlite" + suffix)[.size] as? Int) ?? 0)
        }
        let startup = try await serveStartup(directory)
        let routes = try await routeLatencies(directory, requests: 50)
        guard let provenance = try FileManager.default.subpathsOfDirectory(atPath: dataset + "/" + DatasetLayout.provenanceFolder).first(where: { $0.hasSuffix(".jsonl") }) else {
            throw BenchError("no provenance file in \(dataset)")
        }
        try FileIO.append(Array(#"{"id":"half a li"#.utf8), to: dataset + "/" + DatasetLayout.provenanceFolder + "/" + provenance)
        let crashStartup = try await serveStartup(directory)
        return Result(
            images: images, imageCommit: imageCommit, indexWrite: indexWrite, imageBytes: imageBytes, voteCommit: voteCommit, voteBytes: voteBytes,
            exportSeconds: exportSeconds, ledgerBytes: ledgerBytes, startupSeconds: startup.seconds, loadedSeconds: startup.loaded, rssBytes: startup.rss,
            crashStartupSeconds: crashStartup.seconds, crashLoadedSeconds: crashStartup.loaded, routes: routes
        )
    }

    /// `commits` image commits and vote commits, one change each, made as the service makes
    /// them: their latencies and the median bytes each adds; and after each vote commit, the idle
    /// time's rewrite of `.git/index`.
    static func commitLoop(_ opened: (Ledger, DatasetRepository), commits: Int) async throws -> (Measurement, Int, Measurement, Int, Measurement) {
        let (ledger, repository) = opened
        // Packs are not combined meanwhile: each commit's bytes are its pack's.
        let committer = Committer(ledger: ledger, repository: repository, doorbell: Doorbell(), packThreshold: .max, logger: Logger(label: "bench"))
        try await committer.commitPending()  // loads the file list as committed
        var imageTimes: [Duration] = [], imageBytes: [Int] = []
        var voteTimes: [Duration] = [], voteBytes: [Int] = [], indexTimes: [Duration] = []
        let run = UUID().uuidString
        for k in 0..<commits {
            let png = Data("new image \(k) of run \(run)".utf8)
            let generation = record("new-\(k)-\(run)")
            let image = ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: 0, seed: nil, png: png, postedTo: nil, createdAt: Date())
            try ledger.record([generation], images: [image])
            let (imageTime, imageAdded) = try await timed(committer, repository.directory)
            imageTimes.append(imageTime)
            imageBytes.append(imageAdded)

            try await ledger.apply([VoteCommand(imageID: image.id, rater: "new-\(k)", choice: .up, source: .web, occurredAt: Date())])
            let (voteTime, voteAdded) = try await timed(committer, repository.directory)
            voteTimes.append(voteTime)
            voteBytes.append(voteAdded)

            let indexStarted = ContinuousClock.now
            try await committer.commitAll()  // nothing pending: writes the index, as the service does when idle
            indexTimes.append(ContinuousClock.now - indexStarted)
        }
        var imageCommits = Measurement(imageTimes, repository: repository.directory)
        try await imageCommits.measureStore()
        return (
            imageCommits, median(imageBytes),
            Measurement(voteTimes, repository: repository.directory), median(voteBytes), Measurement(indexTimes)
        )
    }

    /// `images` images of a few bytes each (what grows is the number of files, not their size),
    /// one vote on each, committed at once.
    static func preload(images: Int, in directory: String) async throws -> (Ledger, DatasetRepository) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ledger = try Ledger(path: directory + "/drover.sqlite")
        let repository = try await DatasetRepository.open(at: directory + "/dataset")
        let generation = record("preload")
        var ids: [ImageID] = []
        for batch in stride(from: 0, to: images, by: 10_000) {
            let records = (batch..<min(batch + 10_000, images)).map { index in
                let png = Data("image \(index)".utf8)
                return ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: index, seed: nil, png: png, postedTo: nil, createdAt: Date())
            }
            ids += try ledger.record([generation], images: records)
        }
        for batch in stride(from: 0, to: images, by: 10_000) {
            try await ledger.apply((batch..<min(batch + 10_000, images)).map { index in
                VoteCommand(imageID: ids[index], rater: "r\(index % 100)", choice: index % 3 == 0 ? .down : .up, source: .web, occurredAt: Date())
            })
        }
        let loader = Committer(
            ledger: ledger, repository: repository, doorbell: Doorbell(), maxChangesPerCommit: min(2 * images + 1, 200_000), logger: Logger(label: "bench")
        )
        try await loader.commitPending()
        return (ledger, repository)
    }

    static func record(_ id: String) -> GenerationRecord {
        GenerationRecord(
            id: id, prompt: "a fluffy ox eating almonds", negativePrompt: nil, steps: 30, guidanceScale: 7.5, width: 512, height: 512,
            model: "bench", modelVersion: "0-1", backend: "procedural", requestedBy: "bench", createdAt: Date()
        )
    }

    /// One change committed as the service commits it (`.git/index` left to idle time): its time
    /// and the bytes of objects it wrote (its pack).
    static func timed(_ committer: Committer, _ repository: String) async throws -> (Duration, Int) {
        let before = try objectBytes(repository)
        let started = ContinuousClock.now
        try await committer.commitAll(pacedUnderLoad: true)
        let elapsed = ContinuousClock.now - started
        return (elapsed, try objectBytes(repository) - before)
    }

    /// The bytes of `.git/objects`.
    static func objectBytes(_ repository: String) throws -> Int {
        try Sizes.bytes(under: repository + "/.git/objects")
    }

    /// `drover serve`'s start-up, measured in a process of its own (this binary with
    /// `--serve-startup DIR`): seconds from the start of `buildApplication` until it listens and
    /// until its committer has loaded the dataset, and its resident memory then.
    static func serveStartup(_ directory: String) async throws -> (seconds: Double, loaded: Double, rss: Int) {
        let me = CommandLine.arguments[0]
        let executable = me.hasPrefix("/") ? me : FileManager.default.currentDirectoryPath + "/" + me
        let output = try await Command.run(executable, ["--serve-startup", directory], in: directory)
        let fields = output.split(separator: " ")
        guard fields.count == 3, let seconds = Double(fields[0]), let loaded = Double(fields[1]), let rss = Int(fields[2].trimmingWhitespace()) else {
            throw BenchError("--serve-startup printed \(output)")
        }
        return (seconds, loaded, rss)
    }

    /// The child side of ``serveStartup(_:)``: builds and starts the server, then waits until its
    /// committer has loaded the dataset (`/healthz`: `dataset.loading` false); prints
    /// `<seconds until it listens> <seconds until the committer is loaded> <VmRSS bytes then>`, and exits.
    static func reportStartup(_ directory: String) async throws -> Never {
        let started = ContinuousClock.now
        let configuration = try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory, "DROVER_PORT": "0"])
        let (ports, signal) = AsyncStream.makeStream(of: Int.self)
        let server = try await buildApplication(configuration, logger: Logger(label: "bench")) { signal.yield($0.localAddress?.port ?? 0) }
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BenchError("the server did not start") }
        let listening = seconds(ContinuousClock.now - started)
        while true {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 20)
            let health = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            if (health?["dataset"] as? [String: Any])?["loading"] as? Bool == false { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let loaded = seconds(ContinuousClock.now - started)
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        say("\(listening) \(loaded) \(rssKiB * 1_024)")
        exit(0)
    }

    /// Each of ``routes`` `requests` times against the server on `directory`, one at a time.
    static func routeLatencies(_ directory: String, requests: Int) async throws -> [(route: String, latency: Measurement)] {
        let configuration = try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory, "DROVER_PORT": "0"])
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = try await buildApplication(configuration, logger: Logger(label: "bench")) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var listening = ports.makeAsyncIterator()
            guard let port = await listening.next() else { throw BenchError("the server did not start") }
            var results: [(route: String, latency: Measurement)] = []
            for route in routes {
                var times: [Duration] = []
                for _ in 0..<requests {
                    let started = ContinuousClock.now
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(route)"), timeout: .seconds(120))
                    _ = try await response.body.collect(upTo: 64 << 20)
                    times.append(ContinuousClock.now - started)
                    guard response.status == .ok else { throw BenchError("\(route) answered \(response.status)") }
                }
                results.append((route, Measurement(times)))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return results
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Int]) -> Int { values.sorted()[values.count / 2] }

    /// The tables of ``Result``s: the costs per size, then each route's latency per size.
    static func table(_ results: [Result]) -> String {
        var out = "| images = rows | image commit p50 / p99 (ms) | bytes per image commit | vote commit p50 / p99 (ms) | bytes per vote commit | "
        out += "index rewrite when idle p50 (ms) | after gc: store ÷ data, store − data per image (B) | "
        out += "export seed-csv (s) | ledger (MB) | serve: listening / committer loaded (s) | serve RSS then (MB) | "
        out += "serve after a crash: listening / loaded (s) |\n"
        out += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for result in results {
            let store = result.imageCommit
            out += "| \(result.images.formatted()) | \(result.imageCommit.p50) / \(result.imageCommit.p99) | \(result.imageBytes.formatted()) | "
            out += "\(result.voteCommit.p50) / \(result.voteCommit.p99) | \(result.voteBytes.formatted()) | \(result.indexWrite.p50) | "
            out += String(format: "%.2f×, %.0f | ", Double(store.storeBytes) / Double(max(store.dataBytes, 1)), Double(store.storeBytes - store.dataBytes) / Double(result.images))
            out += String(
                format: "%.2f | %.1f | %.2f / %.2f | %.0f | %.2f / %.2f |\n", result.exportSeconds, Double(result.ledgerBytes) / 1e6, result.startupSeconds,
                result.loadedSeconds, Double(result.rssBytes) / 1e6, result.crashStartupSeconds, result.crashLoadedSeconds
            )
        }
        out += "\n| route: p50 / p99 (ms) at | " + results.map { "\($0.images.formatted()) images" }.joined(separator: " | ") + " |\n"
        out += "|---|" + String(repeating: "---:|", count: results.count) + "\n"
        for (index, route) in routes.enumerated() {
            out += "| `\(route)` | " + results.map { "\($0.routes[index].latency.p50) / \($0.routes[index].latency.p99)" }.joined(separator: " | ") + " |\n"
        }
        return out
    }
}
