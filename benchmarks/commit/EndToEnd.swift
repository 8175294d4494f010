import AsyncHTTPClient
import DroverCore
import DroverDataset
import DroverServer
import DroverStore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// Votes through the whole of `drover serve`, in this process: `clients` concurrent clients post
/// votes to `/api/votes` for `seconds` (each answered 202 once its inbox row is durable), the
/// vote worker applies them in batches, the committer commits them in group commits. Votes per
/// second from the first request to the commit of the last vote.
enum EndToEndRun {
    struct Result {
        var rows: Int
        var clients: Int
        var votes: Int
        var commits: Int
        var seconds: Double
    }

    static func measure(_ workload: Workload, seconds: Double, clients: Int, in directory: String) async throws -> Result {
        let ids = try await DroverRun.preload(workload, in: directory).2  // releases the dataset lock for the server
        let ledger = try Ledger(path: directory + "/drover.sqlite")
        let configuration = try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory, "DROVER_PORT": "0"])
        let logger = Logger(label: "bench")
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = try await buildApplication(configuration, logger: logger) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: logger))
        var connectionPool = HTTPClient.Configuration.ConnectionPool()
        connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = clients
        let client = HTTPClient(configuration: .init(connectionPool: connectionPool))
        do {
            let result = try await run(server: group, listening: ports, client: client, clients: clients, ids: ids, ledger: ledger, seconds: seconds)
            try await client.shutdown()
            return Result(rows: workload.rows, clients: clients, votes: result.votes, commits: result.commits, seconds: result.seconds)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private static func run(
        server group: ServiceGroup, listening ports: AsyncStream<Int>, client: HTTPClient, clients: Int, ids: [ImageID], ledger: Ledger,
        seconds: Double
    ) async throws -> (votes: Int, commits: Int, seconds: Double) {
        let directory = (ledger.database.path as NSString).deletingLastPathComponent
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var listening = ports.makeAsyncIterator()
            guard let port = await listening.next() else { throw BenchError("the server did not start") }
            let base = "http://127.0.0.1:\(port)"
            let commitsBefore = try await commitCount(directory + "/dataset")
            let started = ContinuousClock.now
            let deadline = started + .milliseconds(Int(seconds * 1_000))
            let votes = try await withThrowingTaskGroup(of: Int.self) { senders in
                for sender in 0..<clients {
                    senders.addTask {
                        var sent = 0
                        while ContinuousClock.now < deadline {
                            let vote = #"{"image_id":"\#(ids[(sent * clients + sender) % ids.count])","rater":"e\#(sender)-\#(sent)","rating":"up"}"#
                            try await post(vote, to: base + "/api/votes", client: client)
                            sent += 1
                        }
                        return sent
                    }
                }
                return try await senders.reduce(0, +)
            }
            let inbox = Inbox(ledger: ledger)
            while try inbox.depth() > 0 || !ledger.pendingChanges(limit: 1).isEmpty {
                try await Task.sleep(for: .milliseconds(2))
            }
            let elapsed = ContinuousClock.now - started
            let commits = try await commitCount(directory + "/dataset") - commitsBefore
            await group.triggerGracefulShutdown()
            try await tasks.next()
            return (votes, commits, elapsed.seconds)
        }
    }

    private static func commitCount(_ repository: String) async throws -> Int {
        let count = try await Git(directory: repository).run(["rev-list", "--count", "HEAD"])
        return Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    private static func post(_ json: String, to url: String, client: HTTPClient) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 16)
        guard response.status == .accepted else { throw BenchError("a vote was answered \(response.status)") }
    }
}
