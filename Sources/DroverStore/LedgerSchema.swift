import GRDB

/// The ledger's migrations. Never edit one that has been released: add a new one.
enum LedgerSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: inbox, generations, images, votes") { db in
            try db.create(table: "inboxItem") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("idempotencyKey", .text).notNull().unique()
                t.column("kind", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull().defaults(to: "pending")
                    .check { ["pending", "running", "done", "failed"].contains($0) }
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("leaseExpiresAt", .datetime)
                t.column("receivedAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.column("lastError", .text)
            }
            try db.create(index: "inboxItem_open", on: "inboxItem", columns: ["state", "id"])

            try db.create(table: "generation") { t in
                t.primaryKey("id", .text)
                t.column("prompt", .text).notNull().check { length($0) > 0 }
                t.column("negativePrompt", .text)
                t.column("steps", .integer)
                t.column("guidanceScale", .double)
                t.column("width", .integer).notNull()
                t.column("height", .integer).notNull()
                t.column("model", .text).notNull()
                t.column("modelVersion", .text).notNull()
                t.column("backend", .text).notNull()
                t.column("requestedBy", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }

            try db.create(table: "image") { t in
                t.primaryKey("id", .text).check { length($0) == 16 }
                t.column("generationID", .text).notNull().indexed().references("generation")
                t.column("position", .integer).notNull()
                t.column("seed", .integer)
                t.column("png", .blob).notNull()
                t.column("postedTo", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("commitSHA", .text)
            }

            try db.create(table: "voteEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("imageID", .text).notNull().indexed().references("image")
                t.column("rater", .text).notNull()
                // NULL means the rater retracted their rating.
                t.column("rating", .text).check { $0 == nil || ["Approve", "Disapprove"].contains($0) }
                t.column("previousRating", .text).check { $0 == nil || ["Approve", "Disapprove"].contains($0) }
                t.column("source", .text).notNull()
                t.column("occurredAt", .datetime).notNull()
                t.column("commitSHA", .text)
                t.check(sql: "rating IS NOT previousRating")
            }
            try db.create(index: "voteEvent_uncommitted", on: "voteEvent", columns: ["commitSHA", "id"])

            try db.create(table: "vote") { t in
                t.column("imageID", .text).notNull().references("image")
                t.column("rater", .text).notNull()
                t.column("rating", .text).notNull().check { ["Approve", "Disapprove"].contains($0) }
                t.column("eventID", .integer).notNull().references("voteEvent")
                t.column("updatedAt", .datetime).notNull()
                t.primaryKey(["imageID", "rater"])
            }
        }
        migrator.registerMigration("v2: slack messages") { db in
            try db.create(table: "slackMessage") { t in
                t.column("channel", .text).notNull()
                t.column("ts", .text).notNull()
                t.primaryKey(["channel", "ts"])
                t.column("imageID", .text).notNull().indexed().references("image")
                t.column("teamID", .text).notNull()
                t.column("fileID", .text).notNull()
                t.column("postedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3: change sets (reverts, imports)") { db in
            try db.create(table: "changeSet") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull().check { ["revert", "import"].contains($0) }
                t.column("scope", .text).notNull().check { length($0) > 0 }
                t.column("reason", .text)
                t.column("createdAt", .datetime).notNull()
                t.check(sql: "kind <> 'revert' OR length(reason) > 0")
            }
            try db.create(table: "changeSetVoteEvent") { t in
                t.primaryKey("voteEventID", .integer).references("voteEvent")
                t.column("changeSetID", .integer).notNull().indexed().references("changeSet")
            }
            try db.create(table: "changeSetImage") { t in
                t.primaryKey("imageID", .text).references("image")
                t.column("changeSetID", .integer).notNull().indexed().references("changeSet")
            }
        }
        migrator.registerMigration("v4: reaction states, uncommitted images") { db in
            // Without it, finding the images to commit reads every row — PNG bytes included, as
            // commitSHA is stored after them — on every commit.
            try db.create(index: "image_uncommitted", on: "image", columns: ["commitSHA"])
            // The latest reaction event seen per rater × image × rating: Slack delivers events
            // unordered, and an older one must not undo a newer one.
            try db.create(table: "reactionState") { t in
                t.column("imageID", .text).notNull().references("image")
                t.column("rater", .text).notNull()
                t.column("rating", .text).notNull().check { ["Approve", "Disapprove"].contains($0) }
                t.column("present", .boolean).notNull()
                // Slack's event_ts in microseconds since 1970.
                t.column("eventTime", .integer).notNull()
                t.primaryKey(["imageID", "rater", "rating"])
            }
        }
        migrator.registerMigration("v5: inbox state checked without a temporary table") { db in
            // SQLite checks `state IN (four values)` by building a temporary b-tree for every
            // row it writes (a list of more than two constants); comparisons need none. A check
            // cannot be altered: the table is rebuilt, as SQLite documents for that, keeping its
            // rows and its AUTOINCREMENT sequence (so no id is ever used twice).
            let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'inboxItem'")
            try db.create(table: "newInboxItem") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("idempotencyKey", .text).notNull().unique()
                t.column("kind", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull().defaults(to: "pending")
                    .check { $0 == "pending" || $0 == "running" || $0 == "done" || $0 == "failed" }
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("leaseExpiresAt", .datetime)
                t.column("receivedAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.column("lastError", .text)
            }
            let columns = "id, idempotencyKey, kind, payload, state, attempts, leaseExpiresAt, receivedAt, finishedAt, lastError"
            try db.execute(sql: "INSERT INTO newInboxItem (\(columns)) SELECT \(columns) FROM inboxItem")
            try db.drop(table: "inboxItem")
            try db.rename(table: "newInboxItem", to: "inboxItem")
            try db.create(index: "inboxItem_open", on: "inboxItem", columns: ["state", "id"])
            if let sequence {
                try db.execute(sql: """
                    UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'inboxItem';
                    INSERT INTO sqlite_sequence (name, seq) SELECT 'inboxItem', ? WHERE changes() = 0;
                    """, arguments: [sequence, sequence])
            }
        }
        migrator.registerMigration("v6: oxen mirror") { db in
            // Which dataset commit was mirrored to which Oxen commit, per Oxen target (host,
            // repository, branch): the newest row is where the mirror resumes. `oxenCommit` is
            // NULL when the commits changed no file, so nothing was sent.
            try db.create(table: "oxenMirror") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("target", .text).notNull().check { length($0) > 0 }
                t.column("gitCommit", .text).notNull().check { length($0) == 40 }
                t.column("oxenCommit", .text)
                t.column("gitCommits", .integer).notNull().check { $0 >= 1 }
                t.column("mirroredAt", .datetime).notNull()
                t.uniqueKey(["target", "gitCommit"])
            }
        }
        return migrator
    }
}
