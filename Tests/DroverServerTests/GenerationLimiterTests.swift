@testable import DroverServer
import DroverTestSupport
import Synchronization
import Testing

/// The names of the operations that started, in order.
final class Started: Sendable {
    private let names = Mutex<[String]>([])
    var all: [String] { names.withLock { $0 } }
    func append(_ name: String) { names.withLock { $0.append(name) } }
}

@Suite(.timeLimit(.minutes(1))) struct GenerationLimiterTests {
    /// Runs an operation in the limiter that holds its slot until `gate` opens, and notes that it started.
    static func hold(_ limiter: GenerationLimiter, _ gate: Gate, _ started: Started, as name: String) -> Task<Void, any Error> {
        Task {
            try await limiter.run {
                started.append(name)
                await gate.wait()
            }
        }
    }

    @Test func waitersRunInOrderAndTheQueueIsBounded() async throws {
        let limiter = GenerationLimiter(concurrency: 1, queueLimit: 2)
        let gates = (0..<3).map { _ in Gate() }
        let started = Started()
        let first = Self.hold(limiter, gates[0], started, as: "first")
        try await eventually("the first to run") { limiter.load == .init(inFlight: 1, queued: 0) }
        let second = Self.hold(limiter, gates[1], started, as: "second")
        try await eventually("the second to wait") { limiter.load.queued == 1 }
        let third = Self.hold(limiter, gates[2], started, as: "third")
        try await eventually("the third to wait") { limiter.load.queued == 2 }

        await #expect(throws: GenerationError.self) { try await limiter.run {} }
        #expect(started.all == ["first"])

        for (index, gate) in gates.enumerated() {
            gate.open()
            try await eventually("the next to run") { started.all.count == min(index + 2, 3) }
        }
        for task in [first, second, third] { try await task.value }
        #expect(started.all == ["first", "second", "third"])
        #expect(limiter.load == .init(inFlight: 0, queued: 0))
    }

    @Test func aWaiterThatIsCancelledLeavesTheQueueAndNeverRuns() async throws {
        let limiter = GenerationLimiter(concurrency: 1, queueLimit: 1)
        let gate = Gate()
        let started = Started()
        let running = Self.hold(limiter, gate, started, as: "running")
        try await eventually("one to run") { limiter.load.inFlight == 1 }
        let waiting = Self.hold(limiter, Gate(), started, as: "cancelled")
        try await eventually("one to wait") { limiter.load.queued == 1 }

        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(limiter.load == .init(inFlight: 1, queued: 0))

        let next = Self.hold(limiter, gate, started, as: "next")
        try await eventually("the next to wait") { limiter.load.queued == 1 }
        gate.open()
        try await running.value
        try await next.value
        #expect(started.all == ["running", "next"])
        #expect(limiter.load == .init(inFlight: 0, queued: 0))
    }
}
