import DroverCore
import DroverStore
import Foundation

/// Applies a ``VoteCommand`` from the inbox to the ledger and queues the change for commit.
struct VoteHandler: InboxHandler {
    static let kind = "vote"
    var kind: String { Self.kind }

    let ledger: Ledger
    let committerDoorbell: Doorbell

    func handle(_ item: InboxItem) async throws {
        let command = try JSONDecoder().decode(VoteCommand.self, from: item.payload)
        let event = try await ledger.database.write { db in
            let event = try Ledger.apply(command, in: db)
            try Inbox.complete(item, in: db)
            return event
        }
        if event != nil { committerDoorbell.ring() }
    }
}
