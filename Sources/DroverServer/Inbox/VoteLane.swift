import DroverCore
import DroverStore
import GRDB
import Logging

/// What a ``VoteSource`` decides inside the transaction that applies the vote (it may read the
/// ledger, e.g. the rater's current rating): the vote, or `nil` for none.
typealias VoteDecision = @Sendable (Database) throws -> VoteCommand?

/// Reads the vote an inbox item of one kind stands for.
protocol VoteSource: Sendable {
    /// The `kind` of the items it reads.
    var kind: String { get }
    /// Decodes `item`, outside any transaction, into the decision that makes its vote.
    func decision(for item: InboxItem) throws -> VoteDecision
}

/// Applies votes in batches: up to ``batchLimit`` pending items, in inbox order, each decided,
/// applied and marked done in one transaction — one fsync for the batch instead of two per vote.
/// An item that fails is rolled back alone and tried again in a later batch, until it is set
/// aside after ``Inbox/maxAttempts``. A crash before the commit leaves the whole batch pending;
/// after it, the whole batch is done.
///
/// (Slack reactions are mostly applied as they are stored, ``SlackIntake``; the lane gets those
/// whose first try failed.) Once a batch commits, its votes are announced (``VoteAnnouncer``).
struct VoteLane: InboxLane {
    let inbox: Inbox
    let ledger: Ledger
    let sources: [String: any VoteSource]
    let announcer: VoteAnnouncer
    let logger: Logger
    /// The most items one transaction applies: bounds how long the ledger's write lock is held,
    /// which acknowledgements (inbox writes) wait for.
    var batchLimit = 128
    /// How long to wait before the next batch after a batch of more than one vote.
    static let gatherPause: Duration = .milliseconds(5)

    init(inbox: Inbox, ledger: Ledger, sources: [any VoteSource], announcer: VoteAnnouncer, logger: Logger) {
        self.inbox = inbox
        self.ledger = ledger
        self.sources = Dictionary(uniqueKeysWithValues: sources.map { ($0.kind, $0) })
        self.announcer = announcer
        self.logger = logger
    }

    var kinds: Set<String> { Set(sources.keys) }

    func drain(stopping: @Sendable () -> Bool) async throws {
        while !stopping() {
            let items = try inbox.pending(kinds: kinds, limit: batchLimit)
            guard !items.isEmpty else { return }
            let decided = items.map { item in (item, Result { try decide(item) }) }
            let outcome = try await ledger.database.write { db in try Self.apply(decided, in: db) }
            for (item, error) in outcome.failures {
                logger.error("vote item failed", metadata: [
                    "inbox_id": "\(item.id ?? 0)", "kind": "\(item.kind)", "attempt": "\(item.attempts)", "error": "\(error)",
                ])
            }
            await announcer.announce(outcome.events)
            // Under load, a moment's wait lets the next batch gather more votes: fewer
            // transactions and wake-ups per vote. Acknowledgements do not wait for this.
            if items.count > 1 && items.count < batchLimit { try? await Task.sleep(for: Self.gatherPause) }
        }
    }

    private func decide(_ item: InboxItem) throws -> VoteDecision {
        guard let source = sources[item.kind] else { throw VoteLaneError.noSource(kind: item.kind) }
        return try source.decision(for: item)
    }

    private struct Outcome {
        var events: [VoteEventRecord] = []
        var failures: [(item: InboxItem, error: any Error)] = []
    }

    /// Nearly always every item applies, so the batch first goes in one savepoint; only if an
    /// item fails is that rolled back and the batch applied again with a savepoint per item, so
    /// that the failing item alone is set aside. (A savepoint per item from the start cost about
    /// as much as applying the votes.)
    private static func apply(_ decided: [(InboxItem, Result<VoteDecision, any Error>)], in db: Database) throws -> Outcome {
        var events: [VoteEventRecord]?
        try db.inSavepoint {
            events = try? decided.compactMap { item, decision in try applyOne(item, decision, in: db) }
            return events == nil ? .rollback : .commit
        }
        if let events { return Outcome(events: events) }
        var outcome = Outcome()
        for (item, decision) in decided {
            do {
                var event: VoteEventRecord?
                try db.inSavepoint {
                    event = try applyOne(item, decision, in: db)
                    return .commit
                }
                if let event { outcome.events.append(event) }
            } catch {
                var failed = item
                failed.attempts += 1
                try Inbox.recordFailure(of: failed, error: "\(error)", in: db)
                outcome.failures.append((failed, error))
            }
        }
        return outcome
    }

    /// Marks `item` done and applies its vote, unless it is no longer pending.
    private static func applyOne(_ item: InboxItem, _ decision: Result<VoteDecision, any Error>, in db: Database) throws -> VoteEventRecord? {
        guard try Inbox.completeIfPending(item, in: db) else { return nil }
        return try vote(decision.get(), in: db)
    }

    /// Makes `decision`'s vote, if it decides on one, inside `db`'s transaction.
    /// - Returns: the vote event recorded, or `nil` when nothing changed.
    static func vote(_ decision: VoteDecision, in db: Database) throws -> VoteEventRecord? {
        try decision(db).flatMap { try Ledger.apply($0, in: db) }
    }
}

/// What follows once votes are in the ledger: the votes metric, a ring for the committer, and
/// refreshed 👍 / 👎 counts on the Slack messages of the images they changed.
struct VoteAnnouncer: Sendable {
    let metrics: DroverMetrics
    let committerDoorbell: Doorbell
    /// Refreshes the 👍 / 👎 counts on Slack messages; `nil` without Slack.
    let tallies: TallyUpdater?

    func announce(_ events: [VoteEventRecord]) async {
        guard !events.isEmpty else { return }
        for event in events { metrics.vote(source: event.source) }
        committerDoorbell.ring()
        for imageID in Set(events.map(\.imageID)) { await tallies?.schedule(imageID) }
    }
}

/// Why a vote item could not be read.
enum VoteLaneError: Error, CustomStringConvertible {
    case noSource(kind: String)

    var description: String {
        switch self {
        case .noSource(let kind): "no vote source for kind \(kind)"
        }
    }
}
