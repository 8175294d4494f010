import DroverCore
import DroverStore
import Logging
import ServiceLifecycle

/// Handles one kind of inbox item. A handler applies the item's effects and marks it complete
/// in one ledger transaction, so that handling an item twice is impossible.
public protocol InboxHandler: Sendable {
    /// The `kind` of the items it handles.
    var kind: String { get }
    func handle(_ item: InboxItem) async throws
}

/// Takes inbox items of its handlers' kinds in order, one at a time, and hands each to the
/// handler for its kind. Slow work (generation) and quick work (votes) run in separate workers
/// so that votes never wait behind a generation.
///
/// At start, items left running by a crash are taken back. On graceful shutdown the worker
/// finishes the item in hand and then either drains what is already in the inbox (quick work:
/// votes) or stops and leaves the rest pending for the next start (slow work: generations).
public final class InboxWorker: Service {
    private let inbox: Inbox
    private let doorbell: Doorbell
    private let handlers: [String: any InboxHandler]
    private let drainsOnShutdown: Bool
    private let logger: Logger
    private let lease: Duration = .seconds(300)

    public init(inbox: Inbox, doorbell: Doorbell, handlers: [any InboxHandler], drainsOnShutdown: Bool, logger: Logger) {
        self.inbox = inbox
        self.doorbell = doorbell
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.drainsOnShutdown = drainsOnShutdown
        self.logger = logger
    }

    public func run() async throws {
        let interrupted = try inbox.releaseInterrupted(kinds: Set(handlers.keys))
        if interrupted > 0 { logger.notice("took back interrupted inbox items", metadata: ["count": "\(interrupted)"]) }
        // Shutdown closes the doorbell rather than cancelling: the item in hand is finished.
        try await withGracefulShutdownHandler {
            repeat {
                try await drain()
            } while await doorbell.wait()
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
        if drainsOnShutdown { try await drain() }
    }

    /// Handles items until none is open, or until shutdown for a worker that does not drain.
    func drain() async throws {
        while drainsOnShutdown || !doorbell.isClosed, let item = try inbox.claimNext(kinds: Set(handlers.keys), leaseDuration: lease) {
            await handle(item)
        }
    }

    private func handle(_ item: InboxItem) async {
        let metadata: Logger.Metadata = ["inbox_id": "\(item.id ?? 0)", "kind": "\(item.kind)", "key": "\(item.idempotencyKey)"]
        guard let handler = handlers[item.kind] else {
            logger.error("no handler for inbox item", metadata: metadata)
            try? inbox.recordFailure(of: item, error: "no handler for kind \(item.kind)")
            return
        }
        do {
            try await handler.handle(item)
            logger.debug("handled inbox item", metadata: metadata)
        } catch {
            logger.error("inbox item failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? inbox.recordFailure(of: item, error: "\(error)")
        }
    }
}
