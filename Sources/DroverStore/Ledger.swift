import DroverCore
import FoundationEssentials
import GRDB

/// Drover's durable state: one SQLite file (WAL, synchronous commits) holding the inbox,
/// generations, images, votes and which dataset commit holds each change.
///
/// One `Ledger` per file per process. Every method is one transaction.
public final class Ledger: Sendable {
    /// The connection pool: internal, so that every write takes one of the ledger's methods.
    let database: DatabasePool
    /// Group commit for ``Inbox/accept(idempotencyKey:kind:payload:at:)``: one per file, shared
    /// by every ``Inbox`` made from this ledger.
    let inboxWriter: InboxWriter

    /// Opens (creating if needed) the ledger at `path` and migrates it to the current schema.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        database = try DatabasePool(path: path, configuration: configuration)
        // An acknowledged write must survive a power cut, not only a process crash: the WAL is
        // synced at every commit. (Set on the pool's one writer connection, after the pool set
        // its WAL mode — which sets `synchronous = NORMAL`, syncing only at checkpoints.)
        try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try LedgerSchema.migrator.migrate(database)
        inboxWriter = InboxWriter(database: database)
    }

    /// The names of the migrations applied to this file, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database.read { try LedgerSchema.migrator.appliedMigrations($0) }
    }
}
