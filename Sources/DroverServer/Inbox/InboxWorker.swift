import DroverCore
import DroverStore
import Logging
import ServiceLifecycle

/// One lane of inbox work: the kinds of item it takes and how it handles them.
protocol InboxLane: Sendable {
    /// The `kind`s of the items it handles.
    var kinds: Set<String> { get }
    /// Handles open items of its kinds until none is left or `stopping` says to stop.
    func drain(stopping: @Sendable () -> Bool) async throws
}

/// Runs one ``InboxLane`` whenever its doorbell rings. Slow work (generation) and quick work
/// (votes) run in separate workers so that votes never wait behind a generation.
///
/// At start, items left running by a crash are taken back. On graceful shutdown the worker
/// finishes what it has in hand and then either drains what is already in the inbox (quick work:
/// votes) or stops and leaves the rest pending for the next start (slow work: generations).
final class InboxWorker: Service {
    private let inbox: Inbox
    private let doorbell: Doorbell
    private let lane: any InboxLane
    private let drainsOnShutdown: Bool
    private let logger: Logger

    init(inbox: Inbox, doorbell: Doorbell, lane: any InboxLane, drainsOnShutdown: Bool, logger: Logger) {
        self.inbox = inbox
        self.doorbell = doorbell
        self.lane = lane
        self.drainsOnShutdown = drainsOnShutdown
        self.logger = logger
    }

    func run() async throws {
        let interrupted = try inbox.releaseInterrupted(kinds: lane.kinds)
        if interrupted > 0 { logger.notice("took back interrupted inbox items", metadata: ["count": "\(interrupted)"]) }
        // Shutdown closes the doorbell rather than cancelling: the work in hand is finished.
        try await withGracefulShutdownHandler {
            repeat {
                try await drain()
            } while await doorbell.wait()
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
        if drainsOnShutdown { try await drain() }
    }

    private func drain() async throws {
        try await lane.drain { [drainsOnShutdown, doorbell] in !drainsOnShutdown && doorbell.isClosed }
    }
}
