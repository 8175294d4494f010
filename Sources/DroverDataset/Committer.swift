import CoreMetrics
import DroverCore
import DroverGit
import DroverStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The only writer of the dataset repository.
///
/// Each change the ledger records (an image, a vote, a retraction) becomes a commit. When idle,
/// one change is one commit; when changes arrive faster than commits finish, those waiting go
/// into the next commit together (group commit), each still named in its message, and commits
/// start no more often than every `loadedCommitInterval`. The ledger
/// records the commit holding each change; at start the committer reconciles the ledger with the
/// repository's HEAD and commits whatever the ledger has that the repository lacks.
public final class Committer: Service {
    /// What the committer is doing, for `/healthz`.
    public struct Status: Sendable, Codable {
        public var lastCommit: String?
        public var commits: Int
        public var lastError: String?
        /// Whether it is loading the dataset as committed (at start, or after a failed commit):
        /// commits wait meanwhile; votes are recorded as ever.
        public var loading: Bool
    }

    private let ledger: Ledger
    private let repository: DatasetRepository
    private let doorbell: Doorbell
    private let gatherWindow: Duration
    private let loadedCommitInterval: Duration
    private let maxChangesPerCommit: Int
    private let pollInterval: Duration
    private let afterCommit: [Doorbell]
    private let packThreshold: Int
    private let metrics: CommitMetrics
    private let logger: Logger
    /// The background `git repack` in progress, if any.
    private let packing = Mutex<Task<Void, Never>?>(nil)
    private let state = Mutex(Status(lastCommit: nil, commits: 0, lastError: nil, loading: true))
    /// The rows the `annotations/train/` files hold at the last commit; only the committer's own
    /// task touches them.
    private let table = Mutex(TrainingShards())

    /// - Parameters:
    ///   - doorbell: rung by whoever records a change in the ledger.
    ///   - gatherWindow: how long to wait after a ring before committing, so that changes arriving
    ///     together share a commit; zero commits at once.
    ///   - loadedCommitInterval: under load — the last commit held more than one change — the
    ///     least time from one commit to the next, so that the changes of that time share a
    ///     commit: a commit's cost grows with the files it rewrites, not with its changes. Idle, a change is
    ///     committed at once.
    ///   - maxChangesPerCommit: the most changes one group commit takes.
    ///   - pollInterval: how often the ledger is checked for changes that rang no bell here: those
    ///     recorded by another process (`drover revert`, `drover import`).
    ///   - afterCommit: rung after each commit (the pusher and the Oxen mirror listen).
    ///   - packThreshold: once commits have written this many packs (one each), they are
    ///     combined in the background (``DatasetRepository/pack()``).
    ///   - metricsFactory: where ``CommitMetrics`` go.
    public init(
        ledger: Ledger, repository: DatasetRepository, doorbell: Doorbell, gatherWindow: Duration = .zero,
        loadedCommitInterval: Duration = .milliseconds(100),
        maxChangesPerCommit: Int = 1_000, pollInterval: Duration = .seconds(1), afterCommit: [Doorbell] = [],
        packThreshold: Int = 32, metricsFactory: any MetricsFactory = MetricsSystem.factory, logger: Logger
    ) {
        self.ledger = ledger
        self.repository = repository
        self.doorbell = doorbell
        self.gatherWindow = gatherWindow
        self.loadedCommitInterval = loadedCommitInterval
        self.maxChangesPerCommit = maxChangesPerCommit
        self.pollInterval = pollInterval
        self.afterCommit = afterCommit
        self.packThreshold = packThreshold
        self.metrics = CommitMetrics(factory: metricsFactory)
        self.logger = logger
    }

    /// The committer's state now.
    public var status: Status { state.withLock { $0 } }

    /// Commits what is pending at start, then each change as it comes, until graceful shutdown,
    /// when it commits what is left and waits for a background pack to finish.
    public func run() async throws {
        try await reconcile()
        doorbell.ring()  // what was pending before the start
        // Shutdown closes the doorbell instead of cancelling this task: a git process must never
        // be killed halfway through a commit.
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [doorbell, pollInterval] in
                    while !doorbell.isClosed, !Task.isCancelled {
                        await doorbell.linger(for: pollInterval)
                        doorbell.ring()
                    }
                }
                var backoff = Duration.milliseconds(500)
                while await doorbell.wait() {
                    await doorbell.linger(for: gatherWindow)
                    do {
                        // The index is written when a wake-up (the poll's, at the latest) finds
                        // nothing to commit: not once per commit, whose cost would then grow
                        // with the dataset.
                        if try await commitAll(pacedUnderLoad: true).isEmpty { try await repository.writeIndex() }
                        backoff = .milliseconds(500)
                    } catch {
                        record(error)
                        await recover()
                        await doorbell.linger(for: backoff)
                        backoff = min(backoff * 2, .seconds(30))
                        doorbell.ring()
                    }
                }
            }
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
        // Whatever was acknowledged and applied gets committed before exit.
        try await commitAll()
        await packing.withLock { $0 }?.value
    }

    /// Reconciles the ledger with HEAD and commits everything pending: what `run()` does at
    /// start, and what a command does that writes the dataset while no server runs (it must hold
    /// the ``DatasetLock``, which ``DatasetRepository/open(at:)`` takes).
    /// - Returns: the hashes of the commits made, oldest first.
    @discardableResult
    public func commitPending() async throws -> [String] {
        try await reconcile()
        return try await commitAll()
    }

    /// Commits everything pending now: a revert's or an import's changes on their own, ordinary
    /// changes in batches of at most `maxChangesPerCommit`. Call ``commitPending()`` (or `run()`)
    /// first, once: it loads what HEAD holds.
    /// - Returns: the hashes of the commits made.
    /// - Parameter pacedUnderLoad: the service's way: under load, leave ``loadedCommitInterval``
    ///   between the starts of commits, and leave `.git/index` to the service's idle time. A
    ///   command commits as fast as it can, then writes the index.
    @discardableResult
    public func commitAll(pacedUnderLoad: Bool = false) async throws -> [String] {
        var commits: [String] = []
        while true {
            let pending = try ledger.pendingChanges(limit: maxChangesPerCommit)
            if pending.isEmpty {
                if !pacedUnderLoad { try await repository.writeIndex() }
                return commits
            }
            let started = ContinuousClock.now
            let sets = try ledger.changeSets(voteEvents: pending.votes.compactMap(\.event.id), images: pending.images.map(\.image.id))
            commits.append(try await commit(CommitBatch(next: pending, voteSets: sets.voteEvents, imageSets: sets.images)))
            if pacedUnderLoad, pending.count > 1 {
                await doorbell.linger(for: loadedCommitInterval - (ContinuousClock.now - started))
            }
        }
    }

    private func commit(_ batch: CommitBatch) async throws -> String {
        let started = ContinuousClock.now
        let changes = batch.changes
        var paths: [String] = []
        var provenance: [String: String] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for change in changes.images {
            let id = change.image.id
            try repository.write(change.image.png, to: id.datasetPath)
            paths.append(id.datasetPath)
            let line = try encoder.encode(ImageProvenance(image: change.image, generation: change.generation))
            provenance[DatasetLayout.provenance(of: id), default: ""] += String(decoding: line, as: UTF8.self) + "\n"
        }
        for (path, lines) in provenance.sorted(by: { $0.key < $1.key }) {
            try repository.append(lines, to: path)
            paths.append(path)
        }
        if !changes.votes.isEmpty {
            // Changed in place: applying a change twice (a retry after a failed commit) gives the
            // same rows, and a failure reloads the tables from HEAD anyway (`recover()`).
            let files = Set(changes.votes.map { TrainingShards.path(of: $0.event.imageID) }).sorted()
            let documents = try table.withLock { table in
                // A file not loaded yet is as HEAD has it in the working tree: only this committer writes there.
                for path in files where !table.isLoaded(path) { try table.load(path, document: repository.read(path)) }
                for change in changes.votes { table.apply(change) }
                return files.map { table.csv(of: $0) }
            }
            for (path, csv) in zip(files, documents) { try repository.write(csv, to: path) }
            paths += files
        }
        let written = ContinuousClock.now
        let sha = try await repository.commit(paths: paths, message: CommitMessage.make(for: changes, changeSet: batch.changeSet))
        let committed = ContinuousClock.now
        try ledger.markCommitted(
            images: changes.images.map(\.image.id), voteEvents: changes.votes.compactMap(\.event.id), commitSHA: sha, isLastCommit: true
        )
        state.withLock {
            $0.lastCommit = sha
            $0.commits += 1
            $0.lastError = nil
        }
        for doorbell in afterCommit { doorbell.ring() }
        metrics.committed(changes, taking: committed - started)
        packIfNeeded()
        logger.info("committed", metadata: [
            "commit": "\(sha.prefix(12))", "images": "\(changes.images.count)", "votes": "\(changes.votes.count)",
            "change_set": "\(batch.changeSet.map { "\($0.kind.rawValue) \($0.id ?? 0)" } ?? "none")",
            "ms": "\((ContinuousClock.now - started).milliseconds)", "files_ms": "\((written - started).milliseconds)",
            "git_ms": "\((committed - written).milliseconds)",
        ])
        return sha
    }

    /// Puts back what a crash or a failed commit left in the working tree
    /// (``DatasetRepository/restoreIfChanged()``), brings the ledger up to date with HEAD (a
    /// crash may have come between a commit and its ledger record), moves a dataset made in an
    /// older layout into the current one, and makes
    /// sure the rows agree with the ledger. When HEAD is the commit this committer made last
    /// (``Ledger/lastCommit()``), they do, and each rows file is read when a vote first changes
    /// it. Otherwise — a merge, a commit made by hand, a reset — every row is loaded, rows merged
    /// in from elsewhere included, and where the files disagree with the votes the ledger
    /// committed (a union merge brought back a row this ledger retracted) a commit puts the
    /// ledger's votes back.
    func reconcile() async throws {
        state.withLock { $0.loading = true }
        defer { state.withLock { $0.loading = false } }
        repository.reload()
        if try await repository.restoreIfChanged() {
            logger.notice("put the dataset's working tree back to its last commit (a crash or a failed commit had changed it)")
        }
        let (images, voteEvents) = CommitMessage.parseTrailers(try await repository.headMessage())
        if !images.isEmpty || !voteEvents.isEmpty {
            try ledger.markCommitted(images: images, voteEvents: voteEvents, commitSHA: try await repository.head())
        }
        if let moved = try await repository.moveToCurrentLayout() {
            logger.notice("moved the dataset to the current layout (see docs/dataset.md)", metadata: ["commit": "\(moved.prefix(12))"])
        }
        let started = ContinuousClock.now
        var head = try await repository.head()
        var timings: Logger.Metadata = [:]
        if try ledger.lastCommit() == head {
            table.withLock { $0 = TrainingShards() }
            timings["rows"] = "read as votes change them"
        } else {
            var loaded = try TrainingShards(files: try await DatasetLayout.trainFiles(at: "HEAD", repository.git))
            let rowsLoaded = ContinuousClock.now
            let committedVotes = try ledger.committedVoteChanges()
            let votesLoaded = ContinuousClock.now
            let (repairs, files) = loaded.conform(to: committedVotes)
            if !repairs.isEmpty {
                for path in files { try repository.write(loaded.csv(of: path), to: path) }
                head = try await repository.commit(paths: files, message: CommitMessage.repair(repairs))
                logger.notice("the rows disagreed with the ledger (after a merge?); repaired", metadata: ["commit": "\(head.prefix(12))", "rows": "\(repairs.count)"])
            }
            try ledger.markCommitted(images: [], voteEvents: [], commitSHA: head, isLastCommit: true)
            table.withLock { $0 = loaded }
            timings = [
                "rows": "\(loaded.count)", "rows_ms": "\((rowsLoaded - started).milliseconds)", "votes_ms": "\((votesLoaded - rowsLoaded).milliseconds)",
                "conform_ms": "\((ContinuousClock.now - votesLoaded).milliseconds)",
            ]
        }
        let filesStarted = ContinuousClock.now
        try await repository.loadHead()
        timings["files_ms"] = "\((ContinuousClock.now - filesStarted).milliseconds)"
        logger.info("loaded the dataset as committed", metadata: timings)
    }

    /// After a failed commit: the working tree back to HEAD and the state reloaded from it, so
    /// that the retry starts clean (nothing appended twice).
    private func recover() async {
        do {
            try await reconcile()
        } catch {
            logger.error("cannot reload the dataset after a failed commit", metadata: ["error": "\(error)"])
        }
    }

    /// Starts a background `git repack` when enough packs have piled up and none runs.
    private func packIfNeeded() {
        guard repository.newPacks >= packThreshold else { return }
        packing.withLock { task in
            guard task == nil else { return }
            task = Task { [self] in
                do {
                    try await repository.pack()
                } catch {
                    logger.warning("packing the dataset's objects failed; will try again", metadata: ["error": "\(error)"])
                }
                packing.withLock { $0 = nil }
            }
        }
    }

    private func record(_ error: any Error) {
        state.withLock { $0.lastError = "\(error)" }
        logger.error("commit failed; will retry", metadata: ["error": "\(error)"])
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
