import Synchronization

/// Bounds generation: at most `concurrency` generations run at once and at most `queueLimit`
/// more wait for a turn, first come first served. A request past both is refused at once with
/// ``GenerationError/busy(inFlight:queued:)`` rather than left waiting.
final class GenerationLimiter: Sendable {
    /// What the limiter holds right now.
    struct Load: Sendable, Equatable {
        var inFlight: Int
        var queued: Int
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
    }

    let concurrency: Int
    let queueLimit: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - concurrency: how many operations run at once, at least 1.
    ///   - queueLimit: how many more may wait for a turn.
    init(concurrency: Int, queueLimit: Int) {
        precondition(concurrency >= 1 && queueLimit >= 0, "a limiter needs at least one slot and a queue of zero or more")
        self.concurrency = concurrency
        self.queueLimit = queueLimit
    }

    /// How many run and how many wait.
    var load: Load {
        state.withLock { Load(inFlight: $0.inFlight, queued: $0.waiters.count) }
    }

    /// Runs `operation` when a slot is free, waiting in line for one if needed.
    /// - Throws: ``GenerationError/busy(inFlight:queued:)`` when every slot runs and the queue is
    ///   full; `CancellationError` when the task is cancelled while waiting; else what `operation` throws.
    func run<Value>(_ operation: () async throws -> Value) async throws -> Value {
        try await acquire()
        defer { release() }
        return try await operation()
    }

    private func acquire() async throws {
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let refusal: (any Error)? = state.withLock { state in
                    if state.inFlight < concurrency {
                        state.inFlight += 1
                        continuation.resume()
                        return nil
                    }
                    // Checked under the lock that the cancellation handler takes, so a waiter is
                    // either never added or found and removed there.
                    if Task.isCancelled { return CancellationError() }
                    guard state.waiters.count < queueLimit else {
                        return GenerationError.busy(inFlight: state.inFlight, queued: state.waiters.count)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Hands the slot to the first waiter, or frees it.
    private func release() {
        let next = state.withLock { state in
            if state.waiters.isEmpty {
                state.inFlight -= 1
                return nil as Waiter?
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume()
    }
}
