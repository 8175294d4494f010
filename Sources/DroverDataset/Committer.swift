import DroverCore
import DroverStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The only writer of the dataset repository.
///
/// Each change the ledger records (an image, a vote, a retraction) becomes a commit. When idle,
/// one change is one commit; when changes arrive faster than commits finish, those waiting go
/// into the next commit together (group commit), each still named in its message. The ledger
/// records the commit holding each change; at start the committer reconciles the ledger with the
/// repository's HEAD and commits whatever the ledger has that the repository lacks.
public final class Committer: Service {
    /// What the committer is doing, for `/healthz`.
    public struct Status: Sendable, Codable {
        public var lastCommit: String?
        public var commits: Int
        public var lastError: String?
    }

    private let ledger: Ledger
    private let repository: DatasetRepository
    private let doorbell: Doorbell
    private let gatherWindow: Duration
    private let maxChangesPerCommit: Int
    private let logger: Logger
    private let state = Mutex(Status(lastCommit: nil, commits: 0, lastError: nil))
    /// The rows `train.csv` holds at the last commit; only the committer's own task touches it.
    private let table = Mutex(TrainingTable())

    /// - Parameters:
    ///   - doorbell: rung by whoever records a change in the ledger.
    ///   - gatherWindow: how long to wait after a ring before committing, so that changes arriving
    ///     together share a commit; zero commits at once.
    ///   - maxChangesPerCommit: the most changes one group commit takes.
    public init(
        ledger: Ledger, repository: DatasetRepository, doorbell: Doorbell, gatherWindow: Duration = .zero,
        maxChangesPerCommit: Int = 1_000, logger: Logger
    ) {
        self.ledger = ledger
        self.repository = repository
        self.doorbell = doorbell
        self.gatherWindow = gatherWindow
        self.maxChangesPerCommit = maxChangesPerCommit
        self.logger = logger
    }

    /// The committer's state now.
    public var status: Status { state.withLock { $0 } }

    public func run() async throws {
        try await reconcile()
        try await commitAll()
        // Shutdown closes the doorbell instead of cancelling this task: a git process must never
        // be killed halfway through a commit.
        await withGracefulShutdownHandler {
            var backoff = Duration.milliseconds(500)
            while await doorbell.wait() {
                await doorbell.linger(for: gatherWindow)
                do {
                    try await commitAll()
                    backoff = .milliseconds(500)
                } catch {
                    record(error)
                    await doorbell.linger(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                    doorbell.ring()
                }
            }
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
        // Whatever was acknowledged and applied gets committed before exit.
        try await commitAll()
    }

    /// Commits everything pending, in batches of at most `maxChangesPerCommit`.
    /// - Returns: the hashes of the commits made.
    @discardableResult
    func commitAll() async throws -> [String] {
        var commits: [String] = []
        while true {
            let changes = try ledger.pendingChanges(limit: maxChangesPerCommit)
            if changes.isEmpty { return commits }
            commits.append(try await commit(changes))
        }
    }

    private func commit(_ changes: PendingChanges) async throws -> String {
        let started = ContinuousClock.now
        var paths: [String] = []
        var provenance = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for change in changes.images {
            try repository.write(change.image.png, to: change.image.id.datasetPath)
            paths.append(change.image.id.datasetPath)
            provenance += String(decoding: try encoder.encode(change.provenance), as: UTF8.self) + "\n"
        }
        if !provenance.isEmpty {
            try repository.append(provenance, to: DatasetRepository.imagesJSONLPath)
            paths.append(DatasetRepository.imagesJSONLPath)
        }
        var updated = table.withLock { $0 }
        for change in changes.votes { updated.apply(change) }
        if !changes.votes.isEmpty {
            try repository.write(Data(updated.csv().utf8), to: DatasetRepository.trainCSVPath)
            paths.append(DatasetRepository.trainCSVPath)
        }
        let sha = try await repository.commit(paths: paths, message: CommitMessage.make(for: changes))
        try ledger.markCommitted(images: changes.images.map(\.image.id), voteEvents: changes.votes.compactMap(\.event.id), commitSHA: sha)
        table.withLock { $0 = updated }
        state.withLock {
            $0.lastCommit = sha
            $0.commits += 1
            $0.lastError = nil
        }
        logger.info("committed", metadata: [
            "commit": "\(sha.prefix(12))", "images": "\(changes.images.count)", "votes": "\(changes.votes.count)",
            "ms": "\((ContinuousClock.now - started).milliseconds)",
        ])
        return sha
    }

    /// Brings the ledger up to date with HEAD (a crash may have come between a commit and its
    /// ledger record) and rebuilds the training table from the events the dataset holds.
    func reconcile() async throws {
        let (images, voteEvents) = CommitMessage.parseTrailers(try await repository.headMessage())
        if !images.isEmpty || !voteEvents.isEmpty {
            let head = try await repository.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
            try ledger.markCommitted(images: images, voteEvents: voteEvents, commitSHA: head)
        }
        var rebuilt = TrainingTable()
        for change in try ledger.committedVoteChanges() { rebuilt.apply(change) }
        table.withLock { $0 = rebuilt }
    }

    private func record(_ error: any Error) {
        state.withLock { $0.lastError = "\(error)" }
        logger.error("commit failed; will retry", metadata: ["error": "\(error)"])
    }
}

extension ImageChange {
    /// The image's line in `annotations/images.jsonl`.
    var provenance: ImageProvenance {
        ImageProvenance(
            id: image.id, prompt: generation.prompt, negativePrompt: generation.negativePrompt, seed: image.seed,
            steps: generation.steps, guidanceScale: generation.guidanceScale, width: generation.width, height: generation.height,
            model: generation.model, modelVersion: generation.modelVersion, backend: generation.backend,
            generationID: generation.id, createdAt: Timestamp.iso8601(image.createdAt), postedTo: image.postedTo
        )
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
