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
        migrator.registerMigration("v7: model versions") { db in
            // A request that mixes model versions is one generation per version, sharing the
            // request's id; `assignment` says how their version was decided — `random` (blinded, by
            // weight) or `chosen` (pinned by the requester). Both are NULL for generations made
            // before versions were assigned, and for imported or collected images.
            try db.alter(table: "generation") { t in
                t.add(column: "requestID", .text)
                t.add(column: "assignment", .text).check { $0 == "random" || $0 == "chosen" }
            }
            // The number in [0, 1) that drew the image's version, when one was drawn.
            try db.alter(table: "image") { t in
                t.add(column: "assignmentDraw", .double).check { $0 >= 0 && $0 < 1 }
            }
            try db.create(index: "generation_request", on: "generation", columns: ["requestID"])
        }
        migrator.registerMigration("v8: dashboard indexes") { db in
            // What the dashboard's image grid filters and sorts on, one small row per image: its
            // tallies and where it came from. Reading them off `image` would read its PNG bytes
            // too (see v4), and counting `vote` per image per request would read every vote.
            // Triggers keep it in step with `image` and `vote`, so no write path can forget it.
            // `seq` is the image's rowid: the order images were recorded in.
            try db.create(table: "imageTally") { t in
                t.primaryKey("seq", .integer)
                t.column("imageID", .text).notNull().unique().references("image")
                t.column("generationID", .text).notNull()
                t.column("modelVersion", .text).notNull()
                t.column("source", .text).notNull().check { $0 == "web" || $0 == "slack" || $0 == "import" }
                t.column("createdAt", .datetime).notNull()
                t.column("approvals", .integer).notNull().defaults(to: 0).check { $0 >= 0 }
                t.column("disapprovals", .integer).notNull().defaults(to: 0).check { $0 >= 0 }
                t.column("votes", .integer).generatedAs(sql: "approvals + disapprovals")
                // The minority's votes: 0 unless raters disagree.
                t.column("disputed", .integer).generatedAs(sql: "min(approvals, disapprovals)")
                // The approval rate, unrated images last.
                t.column("approvalOrder", .double)
                    .generatedAs(sql: "CASE WHEN approvals + disapprovals > 0 THEN CAST(approvals AS REAL) / (approvals + disapprovals) ELSE 2 END")
            }
            let source = "CASE generation.requestedBy WHEN 'web' THEN 'web' WHEN 'import' THEN 'import' ELSE 'slack' END"
            try db.execute(sql: """
                INSERT INTO imageTally (seq, imageID, generationID, modelVersion, source, createdAt, approvals, disapprovals)
                SELECT image.rowid, image.id, image.generationID, generation.modelVersion, \(source), image.createdAt,
                       (SELECT COUNT(*) FROM vote WHERE vote.imageID = image.id AND vote.rating = 'Approve'),
                       (SELECT COUNT(*) FROM vote WHERE vote.imageID = image.id AND vote.rating = 'Disapprove')
                FROM image JOIN generation ON generation.id = image.generationID;

                CREATE TRIGGER imageTally_image AFTER INSERT ON image BEGIN
                    INSERT INTO imageTally (seq, imageID, generationID, modelVersion, source, createdAt)
                    SELECT NEW.rowid, NEW.id, NEW.generationID, generation.modelVersion, \(source), NEW.createdAt
                    FROM generation WHERE generation.id = NEW.generationID;
                END;
                CREATE TRIGGER imageTally_voteInsert AFTER INSERT ON vote BEGIN
                    UPDATE imageTally SET approvals = approvals + (NEW.rating = 'Approve'), disapprovals = disapprovals + (NEW.rating = 'Disapprove')
                    WHERE imageID = NEW.imageID;
                END;
                CREATE TRIGGER imageTally_voteUpdate AFTER UPDATE OF imageID, rating ON vote BEGIN
                    UPDATE imageTally SET approvals = approvals - (OLD.rating = 'Approve'), disapprovals = disapprovals - (OLD.rating = 'Disapprove')
                    WHERE imageID = OLD.imageID;
                    UPDATE imageTally SET approvals = approvals + (NEW.rating = 'Approve'), disapprovals = disapprovals + (NEW.rating = 'Disapprove')
                    WHERE imageID = NEW.imageID;
                END;
                CREATE TRIGGER imageTally_voteDelete AFTER DELETE ON vote BEGIN
                    UPDATE imageTally SET approvals = approvals - (OLD.rating = 'Approve'), disapprovals = disapprovals - (OLD.rating = 'Disapprove')
                    WHERE imageID = OLD.imageID;
                END;

                CREATE INDEX imageTally_generation ON imageTally (generationID);
                CREATE INDEX imageTally_modelVersion ON imageTally (modelVersion, seq);
                CREATE INDEX imageTally_votes ON imageTally (votes, seq);
                CREATE INDEX imageTally_disputed ON imageTally (disputed, votes, seq);
                CREATE INDEX imageTally_approval ON imageTally (approvalOrder, votes DESC, seq DESC);
                CREATE INDEX voteEvent_occurredAt ON voteEvent (occurredAt, rating);
                """)
            // The grid's prompt search: every substring of three characters or more is indexed
            // (FTS5's trigram tokenizer, case-insensitive), so a search reads only the matching
            // generations instead of every prompt.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE generationPrompt USING fts5(prompt, content = 'generation', tokenize = 'trigram');
                INSERT INTO generationPrompt (rowid, prompt) SELECT rowid, prompt FROM generation;
                CREATE TRIGGER generationPrompt_insert AFTER INSERT ON generation BEGIN
                    INSERT INTO generationPrompt (rowid, prompt) VALUES (NEW.rowid, NEW.prompt);
                END;
                CREATE TRIGGER generationPrompt_update AFTER UPDATE OF prompt ON generation BEGIN
                    INSERT INTO generationPrompt (generationPrompt, rowid, prompt) VALUES ('delete', OLD.rowid, OLD.prompt);
                    INSERT INTO generationPrompt (rowid, prompt) VALUES (NEW.rowid, NEW.prompt);
                END;
                CREATE TRIGGER generationPrompt_delete AFTER DELETE ON generation BEGIN
                    INSERT INTO generationPrompt (generationPrompt, rowid, prompt) VALUES ('delete', OLD.rowid, OLD.prompt);
                END;
                """)
        }
        migrator.registerMigration("v9: statistics totals") { db in
            // The raters page groups the votes by rater: read in that order, not sorted.
            try db.create(index: "vote_rater", on: "vote", columns: ["rater", "rating"])
            // What `statistics()` and the dashboard's overview report, kept added up as votes
            // change, so that they read a few small rows however many images and votes there are:
            // per model version its images, votes and approvals; per rater the votes and
            // approvals; how many images have each tally (approvals, disapprovals), from which the
            // raters' agreement follows; and the 👍 / 👎 cast per day. Whole numbers only, so
            // nothing drifts. Triggers on `imageTally`, `vote` and `voteEvent` keep them.
            try db.execute(sql: """
                CREATE TABLE modelVersionTotal (
                    modelVersion TEXT PRIMARY KEY, images INTEGER NOT NULL DEFAULT 0,
                    approvals INTEGER NOT NULL DEFAULT 0, disapprovals INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE raterTotal (rater TEXT PRIMARY KEY, approvals INTEGER NOT NULL DEFAULT 0, disapprovals INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE tallyCount (
                    approvals INTEGER NOT NULL, disapprovals INTEGER NOT NULL, images INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (approvals, disapprovals)) WITHOUT ROWID;
                CREATE TABLE dailyVoteTotal (
                    day TEXT PRIMARY KEY, approvals INTEGER NOT NULL DEFAULT 0, disapprovals INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;

                INSERT INTO modelVersionTotal (modelVersion, images, approvals, disapprovals)
                SELECT modelVersion, COUNT(*), TOTAL(approvals), TOTAL(disapprovals) FROM imageTally GROUP BY modelVersion;
                INSERT INTO raterTotal (rater, approvals, disapprovals)
                SELECT rater, TOTAL(rating = 'Approve'), TOTAL(rating = 'Disapprove') FROM vote GROUP BY rater;
                INSERT INTO tallyCount (approvals, disapprovals, images)
                SELECT approvals, disapprovals, COUNT(*) FROM imageTally GROUP BY approvals, disapprovals;
                INSERT INTO dailyVoteTotal (day, approvals, disapprovals)
                SELECT substr(occurredAt, 1, 10), TOTAL(rating = 'Approve'), TOTAL(rating = 'Disapprove')
                FROM voteEvent WHERE rating IS NOT NULL GROUP BY substr(occurredAt, 1, 10);

                CREATE TRIGGER dailyVoteTotal_event AFTER INSERT ON voteEvent WHEN NEW.rating IS NOT NULL BEGIN
                    INSERT INTO dailyVoteTotal (day, approvals, disapprovals)
                    VALUES (substr(NEW.occurredAt, 1, 10), NEW.rating = 'Approve', NEW.rating = 'Disapprove')
                    ON CONFLICT (day) DO UPDATE SET
                        approvals = approvals + (NEW.rating = 'Approve'), disapprovals = disapprovals + (NEW.rating = 'Disapprove');
                END;

                CREATE TRIGGER modelVersionTotal_image AFTER INSERT ON imageTally BEGIN
                    INSERT INTO modelVersionTotal (modelVersion, images, approvals, disapprovals)
                    VALUES (NEW.modelVersion, 1, NEW.approvals, NEW.disapprovals)
                    ON CONFLICT (modelVersion) DO UPDATE SET
                        images = images + 1, approvals = approvals + NEW.approvals, disapprovals = disapprovals + NEW.disapprovals;
                    INSERT INTO tallyCount (approvals, disapprovals, images) VALUES (NEW.approvals, NEW.disapprovals, 1)
                    ON CONFLICT (approvals, disapprovals) DO UPDATE SET images = images + 1;
                END;
                CREATE TRIGGER modelVersionTotal_tally AFTER UPDATE OF approvals, disapprovals ON imageTally BEGIN
                    UPDATE modelVersionTotal SET approvals = approvals - OLD.approvals + NEW.approvals,
                        disapprovals = disapprovals - OLD.disapprovals + NEW.disapprovals
                    WHERE modelVersion = NEW.modelVersion;
                    UPDATE tallyCount SET images = images - 1 WHERE approvals = OLD.approvals AND disapprovals = OLD.disapprovals;
                    INSERT INTO tallyCount (approvals, disapprovals, images) VALUES (NEW.approvals, NEW.disapprovals, 1)
                    ON CONFLICT (approvals, disapprovals) DO UPDATE SET images = images + 1;
                END;
                CREATE TRIGGER raterTotal_voteInsert AFTER INSERT ON vote BEGIN
                    INSERT INTO raterTotal (rater, approvals, disapprovals)
                    VALUES (NEW.rater, NEW.rating = 'Approve', NEW.rating = 'Disapprove')
                    ON CONFLICT (rater) DO UPDATE SET
                        approvals = approvals + (NEW.rating = 'Approve'), disapprovals = disapprovals + (NEW.rating = 'Disapprove');
                END;
                CREATE TRIGGER raterTotal_voteUpdate AFTER UPDATE OF rater, rating ON vote BEGIN
                    UPDATE raterTotal SET approvals = approvals - (OLD.rating = 'Approve'), disapprovals = disapprovals - (OLD.rating = 'Disapprove')
                    WHERE rater = OLD.rater;
                    INSERT INTO raterTotal (rater, approvals, disapprovals)
                    VALUES (NEW.rater, NEW.rating = 'Approve', NEW.rating = 'Disapprove')
                    ON CONFLICT (rater) DO UPDATE SET
                        approvals = approvals + (NEW.rating = 'Approve'), disapprovals = disapprovals + (NEW.rating = 'Disapprove');
                END;
                CREATE TRIGGER raterTotal_voteDelete AFTER DELETE ON vote BEGIN
                    UPDATE raterTotal SET approvals = approvals - (OLD.rating = 'Approve'), disapprovals = disapprovals - (OLD.rating = 'Disapprove')
                    WHERE rater = OLD.rater;
                END;
                """)
        }
        migrator.registerMigration("v10: rater agreement totals") { db in
            // The raters page: each rater's agreement with the majority of the other raters of
            // the same images, kept rather than recomputed from every vote per request. A vote's
            // `agreement` is 1 when it agrees with the others' majority, 0 when it does not, NULL
            // when they are split evenly or absent; it is set again for every vote of an image
            // whose tally changes (a few rows), and `raterTotal` adds it up (an upsert: which of a
            // new vote's triggers runs first is SQLite's choice). The newest vote per
            // rater is one look-up in `vote_raterUpdated`.
            let agreement = { (approvals: String, disapprovals: String) in
                """
                CASE WHEN \(approvals) - (vote.rating = 'Approve') = \(disapprovals) - (vote.rating = 'Disapprove') THEN NULL
                     WHEN (\(approvals) - (vote.rating = 'Approve') > \(disapprovals) - (vote.rating = 'Disapprove')) = (vote.rating = 'Approve') THEN 1
                     ELSE 0 END
                """
            }
            try db.execute(sql: """
                DROP INDEX vote_rater;
                CREATE INDEX vote_raterUpdated ON vote (rater, updatedAt);
                ALTER TABLE vote ADD COLUMN agreement INTEGER;
                ALTER TABLE raterTotal ADD COLUMN withMajority INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE raterTotal ADD COLUMN agreeing INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX raterTotal_votes ON raterTotal (approvals + disapprovals DESC, rater);

                UPDATE vote SET agreement = (
                    SELECT \(agreement("imageTally.approvals", "imageTally.disapprovals")) FROM imageTally WHERE imageTally.imageID = vote.imageID
                );
                UPDATE raterTotal SET
                    withMajority = (SELECT COUNT(agreement) FROM vote WHERE vote.rater = raterTotal.rater),
                    agreeing = (SELECT TOTAL(agreement) FROM vote WHERE vote.rater = raterTotal.rater);

                CREATE TRIGGER vote_agreement AFTER UPDATE OF approvals, disapprovals ON imageTally BEGIN
                    UPDATE vote SET agreement = \(agreement("NEW.approvals", "NEW.disapprovals"))
                    WHERE imageID = NEW.imageID AND agreement IS NOT \(agreement("NEW.approvals", "NEW.disapprovals"));
                END;
                CREATE TRIGGER raterTotal_agreement AFTER UPDATE OF agreement ON vote BEGIN
                    INSERT INTO raterTotal (rater, withMajority, agreeing)
                    VALUES (NEW.rater, (NEW.agreement IS NOT NULL) - (OLD.agreement IS NOT NULL), IFNULL(NEW.agreement, 0) - IFNULL(OLD.agreement, 0))
                    ON CONFLICT (rater) DO UPDATE SET
                        withMajority = withMajority + excluded.withMajority, agreeing = agreeing + excluded.agreeing;
                END;
                DROP TRIGGER raterTotal_voteDelete;
                CREATE TRIGGER raterTotal_voteDelete AFTER DELETE ON vote BEGIN
                    UPDATE raterTotal SET approvals = approvals - (OLD.rating = 'Approve'), disapprovals = disapprovals - (OLD.rating = 'Disapprove'),
                        withMajority = withMajority - (OLD.agreement IS NOT NULL), agreeing = agreeing - IFNULL(OLD.agreement, 0)
                    WHERE rater = OLD.rater;
                END;
                """)
        }
        migrator.registerMigration("v11: the committer's last commit") { db in
            // One row: the commit the committer made (or checked) last. A start whose HEAD is
            // still that commit skips reading every row and every committed vote to compare them.
            try db.execute(sql: "CREATE TABLE committerState (id INTEGER PRIMARY KEY CHECK (id = 1), lastCommit TEXT NOT NULL)")
        }
        migrator.registerMigration("v12: disputed images, newest first") { db in
            // The dashboard's "disputed" filter, newest first: few images are disputed, and
            // without this SQLite walks every image newest first to find a page of them.
            try db.execute(sql: "CREATE INDEX imageTally_disputedNewest ON imageTally (seq) WHERE disputed > 0")
        }
        return migrator
    }
}
