import DroverGenerators
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// Holds every waiter until it is opened; once open it never holds anyone again.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func wait() async {
        await withCheckedContinuation { continuation in
            let passes = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if passes { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A fake OpenAI-Images backend whose answers wait for `gate`: each answer is one procedural PNG.
func slowBackend(_ gate: Gate) -> Router<BasicRequestContext> {
    let router = Router()
    router.post("/v1/images/generations") { request, _ in
        _ = try await request.body.collect(upTo: 1 << 20)
        await gate.wait()
        let png = ProceduralGenerator.paint(prompt: "slow", seed: UInt32.random(in: 0...UInt32.max), width: 64, height: 64)
        let answer: [String: Any] = ["model": "slow-fake", "data": [["b64_json": Data(png).base64EncodedString(), "seed": 1]]]
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: answer)))
        )
    }
    return router
}

extension TestClientProtocol {
    /// `/healthz`'s status, its `generator` object, and that object's only model version.
    func generatorHealth() async throws -> (status: HTTPResponse.Status, generator: [String: Any], version: [String: Any]) {
        let response = try await execute(uri: "/healthz", method: .get)
        let generator = try #require(try response.json()["generator"] as? [String: Any])
        let versions = try #require(generator["versions"] as? [[String: Any]])
        try #require(versions.count == 1)
        return (response.status, generator, versions[0])
    }
}

/// Generation is bounded: past the concurrency and the queue a request is refused at once, a slow
/// backend times out, a failing one is reported, and `/healthz` answers throughout.
@Suite(.timeLimit(.minutes(2))) struct BoundedGenerationTests {
    static let generate = #"{"prompt": "a slow ox", "width": 64, "height": 64}"#

    /// Runs Drover in `directory` with `DROVER_GENERATOR=openai` pointed at `backend`, plus `settings`,
    /// and `test` against it over real HTTP.
    static func testDrover(
        against backend: Router<BasicRequestContext>, _ settings: [String: String] = [:], in directory: TemporaryDirectory,
        _ test: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await withHTTPServer(backend) { url in
            let configuration = try testConfiguration(
                directory, ["DROVER_GENERATOR": "openai", "DROVER_GENERATOR_URL": url].merging(settings) { $1 }
            )
            let app = try await buildApplication(configuration, logger: testLogger)
            try await app.test(.ahc(.http), test)
        }
    }

    @Test func pastConcurrencyAndQueueTheRequesterIsToldBusy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gate = Gate()
        let limits = ["DROVER_GENERATOR_CONCURRENCY": "1", "DROVER_GENERATOR_QUEUE": "1"]
        try await Self.testDrover(against: slowBackend(gate), limits, in: directory) { client in
            defer { gate.open() }  // runs last, after any request still running has been cancelled
            async let running = client.post("/api/generations", json: Self.generate)
            try await eventually("one generation in flight") { try await client.generatorHealth().generator["in_flight"] as? Int == 1 }
            async let waiting = client.post("/api/generations", json: Self.generate)
            try await eventually("one generation queued") { try await client.generatorHealth().generator["queued"] as? Int == 1 }

            let refused = try await client.post("/api/generations", json: Self.generate)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "60")
            let message = try #require((try refused.json()["error"] as? [String: Any])?["message"] as? String)
            #expect(message == "busy: the image generator is at its limit (running: 1, waiting: 1); try again in a minute")

            let health = try await client.generatorHealth()
            #expect(health.status == .ok)
            #expect(health.version["backend"] as? String == "openai")
            #expect(health.generator["ok"] as? Bool == true, "a busy refusal is not a failure")

            gate.open()
            #expect(try await running.status == .created)
            #expect(try await waiting.status == .created)
            let after = try await client.generatorHealth().generator
            #expect(after["in_flight"] as? Int == 0 && after["queued"] as? Int == 0)
        }
    }

    @Test func aSlowBackendTimesOutWith504AndTheNextSuccessClearsTheError() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gate = Gate()
        try await Self.testDrover(against: slowBackend(gate), ["DROVER_GENERATOR_TIMEOUT_S": "0.5"], in: directory) { client in
            defer { gate.open() }  // runs last, after any request still running has been cancelled
            let timedOut = try await client.post("/api/generations", json: Self.generate)
            #expect(timedOut.status == .gatewayTimeout)
            let message = try #require((try timedOut.json()["error"] as? [String: Any])?["message"] as? String)
            #expect(message == "timed out: the image generator gave no images within 0.5 s; try again later")

            let health = try await client.generatorHealth()
            #expect(health.status == .ok, "a failing generator degrades Drover but leaves it ready")
            #expect(health.generator["ok"] as? Bool == false)
            #expect(health.version["last_error"] as? String == message && health.version["ok"] as? Bool == false)
            #expect(health.generator["in_flight"] as? Int == 0)

            gate.open()
            // The 0.5 s limit also binds this request: on a loaded machine one try may miss it.
            try await eventually("a generation to succeed once the backend answers") {
                try await client.post("/api/generations", json: Self.generate).status == .created
            }
            let recovered = try await client.generatorHealth()
            #expect(recovered.generator["ok"] as? Bool == true && recovered.version["last_error"] is NSNull, "cleared: null")
        }
    }

    @Test func aFailingBackendAnswers502WithItsMessage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let failing = Router()
        failing.post("/v1/images/generations") { _, _ in
            Response(
                status: .internalServerError, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error": {"message": "CUDA out of memory", "type": "server_error", "param": null, "code": null}}"#))
            )
        }
        try await Self.testDrover(against: failing, in: directory) { client in
            let failed = try await client.post("/api/generations", json: Self.generate)
            #expect(failed.status == .badGateway)
            let message = (try failed.json()["error"] as? [String: Any])?["message"] as? String
            #expect(message == "the image generator failed: the backend answered 500 Internal Server Error: CUDA out of memory")
            #expect(try await client.generatorHealth().version["last_error"] as? String == message)
            let images = try await client.execute(uri: "/api/images", method: .get)
            #expect((try images.json()["images"] as? [Any])?.isEmpty == true, "a failed generation records nothing")
        }
        #expect(try await commitCount(directory) == 1)
    }
}
