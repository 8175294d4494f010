import Foundation

/// The time the digest is scheduled by. Digests are due at a local time of day, so they follow
/// the wall clock (`Date`) rather than a monotonic one; tests drive their own.
protocol DigestClock: Sendable {
    /// The current time.
    var now: Date { get }
    /// Returns once ``now`` has reached `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled first.
    func sleep(until deadline: Date) async throws
}

/// The system's wall clock.
struct SystemDigestClock: DigestClock {
    /// The longest single sleep: the wall clock can jump (a laptop waking, NTP), and `Task.sleep`
    /// does not follow it, so the deadline is checked again at least this often.
    var recheck: Duration = .seconds(60)

    var now: Date { Date() }

    func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return }
            try await Task.sleep(for: min(.milliseconds(Int64((remaining * 1_000).rounded(.up))), recheck))
        }
    }
}
