import DroverCore
import DroverDataset
import DroverGit
import DroverServer
import DroverStore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// Votes through the whole of `drover serve`, run in this process: wrk (`votes.lua`, one thread,
/// `clients` connections) posts votes to `/api/votes` for `seconds`, each answered 202 once its
/// inbox row is durable; the vote worker applies them in batches, the committer commits them in
/// group commits. Votes per second from the first request to the commit of the last vote.
enum EndToEndRun {
    struct Result {
        var rows: Int
        var clients: Int
        var votes: Int
        var commits: Int
        var seconds: Double
        /// Acknowledgement latency, wrk's, in milliseconds.
        var p50: Double
        var p99: Double
    }

    static func measure(_ workload: Workload, seconds: Double, clients: Int, in directory: String) async throws -> Result {
        let script = FileManager.default.currentDirectoryPath + "/benchmarks/commit/votes.lua"
        guard FileManager.default.fileExists(atPath: script) else { throw BenchError("run from the repository's root: \(script) is missing") }
        let ids = try await DroverRun.preload(workload, in: directory).2  // releases the dataset lock for the server
        let ledger = try Ledger(path: directory + "/drover.sqlite")
        let configuration = try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory, "DROVER_PORT": "0"])
        let logger = Logger(label: "bench")
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = try await buildApplication(configuration, logger: logger) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var listening = ports.makeAsyncIterator()
            guard let port = await listening.next() else { throw BenchError("the server did not start") }
            let commitsBefore = try await commitCount(directory + "/dataset")
            let started = ContinuousClock.now
            let output = try await Command.run(
                "wrk", ["-t", "1", "-c", "\(clients)", "-d", "\(Int(seconds))s", "--timeout", "10s", "-s", script, "http://127.0.0.1:\(port)"],
                in: directory, environment: ["VOTE_IMAGES": ids.map(\.rawValue).joined(separator: ",")]
            )
            let report = try WrkReport(output)
            guard report.non2xx == 0, report.errors == 0 else { throw BenchError("votes failed: \(report.non2xx) non-2xx, \(report.errors) socket errors") }
            let inbox = Inbox(ledger: ledger)
            while try inbox.depth() > 0 || !ledger.pendingChanges(limit: 1).isEmpty {
                try await Task.sleep(for: .milliseconds(2))
            }
            let elapsed = ContinuousClock.now - started
            let commits = try await commitCount(directory + "/dataset") - commitsBefore
            await group.triggerGracefulShutdown()
            try await tasks.next()
            return Result(
                rows: workload.rows, clients: clients, votes: report.requests, commits: commits, seconds: elapsed.seconds,
                p50: Double(report.p50) / 1_000, p99: Double(report.p99) / 1_000
            )
        }
    }

    private static func commitCount(_ repository: String) async throws -> Int {
        let count = try await Git(directory: repository).run(["rev-list", "--count", "HEAD"])
        return Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}

/// The line `votes.lua` prints when wrk is done.
private struct WrkReport: Decodable {
    var requests: Int
    var non2xx: Int
    var errors: Int
    var p50: Int
    var p99: Int

    enum CodingKeys: String, CodingKey {
        case requests, non2xx, errors
        case p50 = "p50_us"
        case p99 = "p99_us"
    }

    init(_ output: String) throws {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("WRK_JSON ") }) else {
            throw BenchError("wrk printed no result:\n\(output.suffix(500))")
        }
        self = try JSONDecoder().decode(Self.self, from: Data(line.dropFirst("WRK_JSON ".count).utf8))
    }
}
