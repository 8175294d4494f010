/// Wakes one waiting consumer when there is new work; rings while nobody waits are merged into one.
public final class Doorbell: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

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
        return await iterator.next() != nil
    }

    /// Ends every current and future wait.
    public func close() {
        continuation.finish()
    }
}
