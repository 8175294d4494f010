import Synchronization

/// Wakes one waiting consumer when there is new work; rings while nobody waits are merged into
/// one. Closing it tells the consumer to stop: a graceful shutdown.
public final class Doorbell: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let closed = Mutex(false)

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Says that there is work.
    public func ring() {
        continuation.yield()
    }

    /// Waits for a ring; returns `false` once the doorbell is closed or the task is cancelled.
    public func wait() async -> Bool {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() != nil && !isClosed && !Task.isCancelled
    }

    /// Waits until `duration` has passed, the doorbell is closed or the task is cancelled.
    public func linger(for duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        while !isClosed, !Task.isCancelled, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
        }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { closed.withLock { $0 } }

    /// Ends every current and future wait.
    public func close() {
        closed.withLock { $0 = true }
        continuation.finish()
    }
}
