import DroverTestSupport
import GRDB
import Testing

@testable import DroverStore

/// The migration that rebuilds the inbox (v5): its rows and its id sequence survive, and writing
/// an item no longer builds a temporary table for the state check.
@Suite struct LedgerSchemaTests {
    static let v4 = "v4: reaction states, uncommitted images"

    static func insert(_ key: String, state: String = "pending", in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO inboxItem (idempotencyKey, kind, payload, state, receivedAt) VALUES (?, 'vote', x'00', ?, '2026-11-29 12:00:00.000')",
            arguments: [key, state]
        )
    }

    /// The opcodes SQLite runs to write one inbox item.
    static func insertOpcodes(in queue: DatabaseQueue) throws -> [String] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN INSERT INTO inboxItem (idempotencyKey, kind, payload, state, receivedAt) VALUES ('k', 'vote', x'00', 'done', '2026-11-29 12:00:00.000')")
                .map { $0["opcode"] }
        }
    }

    /// An inbox at v4 holding `keys`, of which `deleted` are then deleted.
    static func inboxAtV4(_ directory: TemporaryDirectory, keys: [String], deleted: [String]) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: directory.path + "/ledger.sqlite")
        try LedgerSchema.migrator.migrate(queue, upTo: v4)
        try queue.write { db in
            for key in keys { try insert(key, in: db) }
            for key in deleted { try db.execute(sql: "DELETE FROM inboxItem WHERE idempotencyKey = ?", arguments: [key]) }
        }
        return queue
    }

    @Test func rowsSurviveAndNoIdIsUsedTwice() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try Self.inboxAtV4(directory, keys: ["a", "b", "c"], deleted: ["c"])
        #expect(try Self.insertOpcodes(in: queue).contains("OpenEphemeral"), "v4's check builds a temporary table per row")

        try LedgerSchema.migrator.migrate(queue)
        try queue.write { try Self.insert("d", in: $0) }
        let rows = try queue.read { try Row.fetchAll($0, sql: "SELECT id, idempotencyKey FROM inboxItem ORDER BY id") }
        #expect(rows.map { $0["idempotencyKey"] as String } == ["a", "b", "d"])
        #expect(rows.map { $0["id"] as Int64 } == [1, 2, 4], "the deleted newest item's id is not used again")
        #expect(try queue.read { try $0.indexes(on: "inboxItem") }.contains { $0.name == "inboxItem_open" && $0.columns == ["state", "id"] })

        #expect(try !Self.insertOpcodes(in: queue).contains("OpenEphemeral"))
        #expect(throws: DatabaseError.self, "the state is still checked") { try queue.write { try Self.insert("e", state: "lost", in: $0) } }
    }

    @Test func anEmptiedInboxKeepsItsSequence() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try Self.inboxAtV4(directory, keys: ["a", "b"], deleted: ["a", "b"])
        try LedgerSchema.migrator.migrate(queue)
        try queue.write { try Self.insert("c", in: $0) }
        #expect(try queue.read { try Int64.fetchOne($0, sql: "SELECT id FROM inboxItem") } == 3)
    }
}
