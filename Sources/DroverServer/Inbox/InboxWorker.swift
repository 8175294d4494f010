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

/// Takes inbox items in order, one at a time, and hands each to the handler for its kind.
///
/// At start, items left running by a crash are taken back. On graceful shutdown the worker
/// drains what is already in the inbox, then stops; anything still there is taken at next start.
public final class InboxWorker: Service {
    private let inbox: Inbox
    private let doorbell: Doorbell
    private let handlers: [String: any InboxHandler]
    private let logger: Logger
    private let lease: Duration = .seconds(60)

    public init(inbox: Inbox, doorbell: Doorbell, handlers: [any InboxHandler], logger: Logger) {
        self.inbox = inbox
        self.doorbell = doorbell
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.logger = logger
    }

    public func run() async throws {
        let interrupted = try inbox.releaseInterrupted()
        if interrupted > 0 { logger.notice("took back interrupted inbox items", metadata: ["count": "\(interrupted)"]) }
        try await drain()
        await cancelWhenGracefulShutdown {
            while await self.doorbell.wait() {
                try? await self.drain()
            }
        }
        try await drain()
    }

    /// Handles items until none is open.
    func drain() async throws {
        while let item = try inbox.claimNext(leaseDuration: lease) {
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
