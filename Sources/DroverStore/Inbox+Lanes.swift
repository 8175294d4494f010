import GRDB

extension Inbox {
    /// Items of `kinds` waiting or running: the backlog of one lane of work.
    public func depth(kinds: Set<String>) throws -> Int {
        try database.read { db in
            try InboxItem.filter(["pending", "running"].contains(Column("state")) && kinds.contains(Column("kind"))).fetchCount(db)
        }
    }
}
