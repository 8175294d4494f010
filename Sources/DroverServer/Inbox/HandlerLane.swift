import DroverStore
import Logging

/// Handles one kind of inbox item: its effects must be safe to apply again, since a crash after
/// them and before the item is marked done makes the lane hand it over once more.
protocol InboxHandler: Sendable {
    /// The `kind` of the items it handles.
    var kind: String { get }
    func handle(_ item: InboxItem) async throws
}

/// Takes items one at a time, in order, under a lease, and hands each to the handler for its
/// kind: for slow work whose effects cannot share a transaction (a generation, a download).
struct HandlerLane: InboxLane {
    let inbox: Inbox
    let handlers: [String: any InboxHandler]
    let logger: Logger
    var lease: Duration = .seconds(300)

    init(inbox: Inbox, handlers: [any InboxHandler], logger: Logger) {
        self.inbox = inbox
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.logger = logger
    }

    var kinds: Set<String> { Set(handlers.keys) }

    func drain(stopping: @Sendable () -> Bool) async throws {
        while !stopping(), let item = try inbox.claimNext(kinds: kinds, leaseDuration: lease) {
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
            try await inbox.complete(item)
            logger.debug("handled inbox item", metadata: metadata)
        } catch {
            logger.error("inbox item failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? inbox.recordFailure(of: item, error: "\(error)")
        }
    }
}
