import Hummingbird
import Logging
import ServiceLifecycle

/// Serves `router` on 127.0.0.1, on a port the system chooses, while `body` runs, then shuts it
/// down gracefully (answering what it is still answering): an in-process stand-in for a backend
/// that cannot run here.
/// - Parameter body: gets the server's base URL, `http://127.0.0.1:<port>`.
/// - Throws: if the server cannot start, or what `body` throws.
public func withHTTPServer<Value: Sendable>(
    _ router: Router<BasicRequestContext>, _ body: (_ baseURL: String) async throws -> Value
) async throws -> Value {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let logger = testLogger
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "fake-backend"),
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        },
        logger: logger
    )
    let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { portContinuation.finish() }
            try await services.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            throw TimedOut(description: "the fake HTTP server did not start")
        }
        do {
            let value = try await body("http://127.0.0.1:\(port)")
            await services.triggerGracefulShutdown()
            return value
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}
