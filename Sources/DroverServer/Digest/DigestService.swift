import DroverCore
import DroverStore
import Foundation
import Logging
import ServiceLifecycle

/// One digest as the inbox keeps it: the period whose ratings it reports.
struct DigestJob: Codable, Sendable {
    /// The instant the previous digest was due: the period's first moment.
    var periodStart: Date
    /// The instant this digest is due: the period's end (excluded).
    var periodEnd: Date
}

/// Asks for the Slack digest when it is due: it sleeps until the schedule's next instant, then
/// writes the digest's job to the inbox under `slack-digest:<local date>`, and the
/// ``DigestHandler`` posts it. The key makes it once per period across restarts: at start the
/// current period's digest is asked for too (posting it late if Drover was not running when it was
/// due), and a digest already asked for is a duplicate that does nothing.
struct DigestService: Service {
    let schedule: DigestSchedule
    let inbox: Inbox
    /// Rung when a digest job is written: the lane that runs the ``DigestHandler``.
    let doorbell: Doorbell
    let clock: any DigestClock
    let logger: Logger
    /// How soon to try again when the inbox could not be written.
    var retryAfter: TimeInterval = 60

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let due = schedule.latestDue(atOrBefore: clock.now)
                var wake = schedule.nextDue(after: due)
                do {
                    try await request(due)
                } catch {
                    logger.warning("could not queue the digest; will try again", metadata: ["error": "\(error)"])
                    wake = min(wake, clock.now.addingTimeInterval(retryAfter))
                }
                try? await clock.sleep(until: wake)
            }
        }
    }

    /// Writes the job of the digest due at `due`, unless it was written before.
    private func request(_ due: Date) async throws {
        let key = "slack-digest:\(schedule.localDate(of: due))"
        let job = DigestJob(periodStart: schedule.previousDue(before: due), periodEnd: due)
        let acceptance = try await inbox.accept(idempotencyKey: key, kind: DigestHandler.kind, payload: try JSONEncoder().encode(job))
        if acceptance == .accepted {
            logger.info("digest due", metadata: ["key": "\(key)"])
            doorbell.ring()
        }
    }
}
