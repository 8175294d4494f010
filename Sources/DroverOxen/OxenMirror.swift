import DroverCore
import DroverStore
import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization

/// Mirrors the dataset's git history to an Oxen branch, in order, one Oxen commit per dataset
/// commit — or, when it is behind, one Oxen commit for many, whose message lists them. It runs
/// after the fact, from git's history: a vote or a commit never waits for it.
///
/// **Exactly once.** Each Oxen commit's message ends with a `Drover-Git-Commit: <sha>` trailer,
/// and the ledger records which dataset commit became which Oxen commit once Oxen has answered.
/// A crash (or a lost answer) between the two is settled before the next Oxen commit: the mirror
/// reads the branch's history, and a Drover commit there that the ledger lacks is recorded, not
/// sent again. Files are uploaded whole (the rows files included), so a retried upload of the same
/// bytes changes nothing; row operations are not idempotent (see docs/operations.md).
///
/// **Failures.** 409, 429 (after `Retry-After`), 5xx, timeouts and broken connections are
/// retried with exponential backoff and jitter; 401 / 403 / 404 stop the mirror (logged, and in
/// ``status``) until Drover is restarted, while votes and commits go on.
public final class OxenMirror: Service {
    /// What the mirror has done, for `/healthz` (`dataset.oxen`) and `drover oxen status`.
    public struct Status: Sendable, Codable, Equatable {
        /// `namespace/name` on ``host``.
        public var repository: String
        public var host: String
        public var branch: String
        /// The newest dataset commit on Oxen.
        public var lastMirrored: String?
        /// The Oxen commit that holds it.
        public var lastOxenCommit: String?
        /// When it was recorded (ISO 8601).
        public var lastMirroredAt: String?
        /// Dataset commits not on Oxen yet; `nil` until the mirror has looked.
        public var lag: Int?
        /// Failed attempts since the last one that worked.
        public var failures: Int
        /// Whether mirroring stopped (401 / 404) until a restart.
        public var stopped: Bool
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case repository, host, branch, lag, failures, stopped
            case lastMirrored = "last_mirrored"
            case lastOxenCommit = "last_oxen_commit"
            case lastMirroredAt = "last_mirrored_at"
            case lastError = "last_error"
        }

        /// Every field is written, an absent one as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(repository, forKey: .repository)
            try container.encode(host, forKey: .host)
            try container.encode(branch, forKey: .branch)
            try container.encode(lastMirrored, forKey: .lastMirrored)
            try container.encode(lastOxenCommit, forKey: .lastOxenCommit)
            try container.encode(lastMirroredAt, forKey: .lastMirroredAt)
            try container.encode(lag, forKey: .lag)
            try container.encode(failures, forKey: .failures)
            try container.encode(stopped, forKey: .stopped)
            try container.encode(lastError, forKey: .lastError)
        }
    }

    /// How far a mirror pass has got (for `drover oxen push`'s progress bar).
    public struct Progress: Sendable {
        /// Dataset commits mirrored in this pass so far, and how many were pending at its start.
        public var commits: Int
        public var commitsTotal: Int
        /// Files uploaded for the Oxen commit in hand, and how many it has.
        public var files: Int
        public var filesTotal: Int
    }

    /// The trailer that names the dataset commit an Oxen commit brings the branch to.
    public static let trailer = "Drover-Git-Commit"

    let ledger: Ledger
    private let datasetDirectory: String
    let commits: DatasetCommits
    /// The Oxen API; closed when ``run()`` ends (or by ``shutdown()``).
    public let client: OxenClient
    /// Ring it after each dataset commit: the committer's `afterCommit`.
    public let doorbell: Doorbell
    private let maxCommitsPerMirror: Int
    private let maxUploadBytes: Int
    private let initialBackoff: Duration
    private let maxBackoff: Duration
    private let logger: Logger
    private let state: Mutex<Status>
    /// Whether the ledger is known to agree with Oxen's history: false at start and after any
    /// failure once files were sent, until the history has been read again.
    private let reconciled = Mutex(false)
    /// Called after Oxen has answered a commit and before the ledger records it: tests stop the
    /// mirror there to stand for a crash.
    let beforeRecording: (@Sendable () async throws -> Void)?

    /// - Parameters:
    ///   - datasetDirectory: the dataset repository, read with git only.
    ///   - maxCommitsPerMirror: the most dataset commits one Oxen commit covers when catching up.
    ///   - maxUploadBytes: the most (uncompressed) bytes in one upload request.
    ///   - initialBackoff, maxBackoff: the first and the longest pause between retries (doubling, with jitter).
    public convenience init(
        settings: OxenSettings, ledger: Ledger, datasetDirectory: String, doorbell: Doorbell = Doorbell(),
        requestTimeout: Duration = .seconds(30), maxCommitsPerMirror: Int = 10_000, maxUploadBytes: Int = 16 << 20,
        initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300), logger: Logger
    ) {
        self.init(
            client: OxenClient(settings: settings, timeout: requestTimeout), ledger: ledger, datasetDirectory: datasetDirectory,
            doorbell: doorbell, maxCommitsPerMirror: maxCommitsPerMirror, maxUploadBytes: maxUploadBytes,
            initialBackoff: initialBackoff, maxBackoff: maxBackoff, logger: logger, beforeRecording: nil
        )
    }

    init(
        client: OxenClient, ledger: Ledger, datasetDirectory: String, doorbell: Doorbell, maxCommitsPerMirror: Int,
        maxUploadBytes: Int, initialBackoff: Duration, maxBackoff: Duration, logger: Logger,
        beforeRecording: (@Sendable () async throws -> Void)?
    ) {
        self.client = client
        self.ledger = ledger
        self.datasetDirectory = datasetDirectory
        self.commits = DatasetCommits(directory: datasetDirectory)
        self.doorbell = doorbell
        self.maxCommitsPerMirror = max(1, maxCommitsPerMirror)
        self.maxUploadBytes = max(1 << 10, maxUploadBytes)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.logger = logger
        self.beforeRecording = beforeRecording
        let settings = client.settings
        let last = try? ledger.lastOxenMirror(target: settings.target)
        state = Mutex(Status(
            repository: settings.repository, host: settings.host, branch: settings.branch, lastMirrored: last?.gitCommit,
            lastOxenCommit: last?.oxenCommit, lastMirroredAt: last.map { Timestamp.iso8601($0.mirroredAt) }, lag: nil, failures: 0,
            stopped: false, lastError: nil
        ))
    }

    /// The mirror's state now.
    public var status: Status { state.withLock { $0 } }

    /// Closes the HTTP client; for a mirror whose ``run()`` was never called.
    public func shutdown() async {
        await client.shutdown()
    }

    // MARK: - The service

    /// Mirrors at start and after each ring of ``doorbell``, retrying failures, until graceful
    /// shutdown; after a 401 / 404 it only waits for shutdown.
    public func run() async throws {
        await withGracefulShutdownHandler {
            var backoff = initialBackoff
            repeat {
                if status.stopped { continue }
                do {
                    try await mirrorPending()
                    backoff = initialBackoff
                } catch let error as OxenError where error.stopsMirroring {
                    state.withLock { $0.stopped = true }
                    logger.error("Oxen mirroring stopped until Drover restarts; votes and commits go on", metadata: [
                        "error": "\(error)", "oxen_repo": "\(client.settings.repository)", "oxen_host": "\(client.settings.host)",
                    ])
                } catch {
                    guard !doorbell.isClosed, !Task.isCancelled else { break }
                    let asked = (error as? OxenError)?.retryAfter ?? .zero
                    let pause = max(asked, backoff * Double.random(in: 0.5...1.0))
                    logger.warning("Oxen mirroring failed; will retry", metadata: [
                        "error": "\(error)", "retry_in_ms": "\(pause.components.seconds * 1_000 + pause.components.attoseconds / 1_000_000_000_000_000)",
                    ])
                    await doorbell.linger(for: pause)
                    backoff = min(backoff * 2, maxBackoff)
                    doorbell.ring()
                }
            } while await doorbell.wait()
        } onGracefulShutdown: { [doorbell] in
            doorbell.close()
        }
        await client.shutdown()
    }

    // MARK: - A pass

    /// Mirrors every dataset commit not yet on Oxen, in Oxen commits of up to
    /// `maxCommitsPerMirror` dataset commits each; at shutdown it stops after the Oxen commit in hand.
    /// - Parameter progress: called after each upload and each Oxen commit.
    /// - Returns: how many dataset commits it mirrored.
    /// - Throws: ``OxenError`` (Oxen's answer), ``MirrorError`` (another process is mirroring),
    ///   or git's error; what was mirrored before stays recorded.
    @discardableResult
    public func mirrorPending(progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Int {
        do {
            return try await mirrorPendingOnce(progress: progress)
        } catch {
            state.withLock {
                $0.failures += 1
                $0.lastError = "\(error)"
            }
            throw error
        }
    }

    private func mirrorPendingOnce(progress: (@Sendable (Progress) -> Void)?) async throws -> Int {
        guard let lock = try MirrorLock.acquire(for: datasetDirectory) else {
            throw MirrorError("another Drover process is mirroring this dataset to Oxen (it holds \(MirrorLock.path(for: datasetDirectory)))")
        }
        defer { withExtendedLifetime(lock) {} }
        let target = client.settings.target
        if !reconciled.withLock({ $0 }) {
            try await reconcile()
            reconciled.withLock { $0 = true }
        }
        var mirrored = 0
        var total: Int?
        while !doorbell.isClosed || total == nil {
            let last = try ledger.lastOxenMirror(target: target)
            let head = try await commits.head()
            let pending = try await commits.pending(after: last?.gitCommit, head: head)
            state.withLock { $0.lag = pending.count }
            if total == nil { total = pending.count }
            guard let tip = pending.prefix(maxCommitsPerMirror).last else { break }
            let batch = Array(pending.prefix(maxCommitsPerMirror))
            let changes = try await commits.changes(from: last?.gitCommit, to: tip)
            var oxenCommit: String?
            if !changes.isEmpty {
                // From here until the ledger records, Oxen may hold a commit the ledger does not know.
                reconciled.withLock { $0 = false }
                oxenCommit = try await send(changes, covering: batch, after: last?.gitCommit) { files, filesTotal in
                    progress?(Progress(commits: mirrored, commitsTotal: total ?? 0, files: files, filesTotal: filesTotal))
                }
            }
            try await beforeRecording?()
            let record = OxenMirrorRecord(target: target, gitCommit: tip, oxenCommit: oxenCommit, gitCommits: batch.count)
            try ledger.recordOxenMirror(record)
            reconciled.withLock { $0 = true }
            mirrored += batch.count
            state.withLock {
                $0.lastMirrored = tip
                $0.lastOxenCommit = oxenCommit ?? $0.lastOxenCommit
                $0.lastMirroredAt = Timestamp.iso8601(record.mirroredAt)
                $0.lag = pending.count - batch.count
                $0.failures = 0
                $0.lastError = nil
            }
            progress?(Progress(commits: mirrored, commitsTotal: total ?? 0, files: 0, filesTotal: 0))
            logger.info("mirrored to Oxen", metadata: [
                "commit": "\(tip.prefix(12))", "oxen_commit": "\(oxenCommit ?? "-")", "commits": "\(batch.count)", "files": "\(changes.count)",
            ])
        }
        return mirrored
    }

    /// Sends one Oxen commit: a fresh workspace, the changed files uploaded whole (removed ones
    /// removed), committed with a message that ends with the ``trailer``.
    /// - Returns: the Oxen commit, or `nil` if Oxen found nothing to commit.
    private func send(
        _ changes: [DatasetCommits.Change], covering batch: [String], after last: String?, progress: (Int, Int) -> Void
    ) async throws -> String? {
        let tip = batch[batch.count - 1]
        let workspace = try await client.createWorkspace()
        do {
            var writes: [String: [String]] = [:]
            var removals: [String] = []
            for change in changes {
                switch change {
                case .write(let path):
                    let slash = path.lastIndex(of: "/")
                    writes[slash.map { String(path[..<$0]) } ?? "", default: []].append(slash.map { String(path[path.index(after: $0)...]) } ?? path)
                case .delete(let path):
                    removals.append(path)
                }
            }
            let filesTotal = writes.values.reduce(0) { $0 + $1.count }
            var uploaded = 0
            for directory in writes.keys.sorted() {
                var files: [(name: String, bytes: [UInt8])] = []
                var bytes = 0
                for name in writes[directory] ?? [] {
                    let content = try await commits.bytes(of: directory.isEmpty ? name : directory + "/" + name, at: tip)
                    if !files.isEmpty, bytes + content.count > maxUploadBytes || files.count >= 1_000 {
                        try await client.upload(workspace: workspace, directory: directory, files: files)
                        uploaded += files.count
                        progress(uploaded, filesTotal)
                        files = []
                        bytes = 0
                    }
                    files.append((name, content))
                    bytes += content.count
                }
                if !files.isEmpty {
                    try await client.upload(workspace: workspace, directory: directory, files: files)
                    uploaded += files.count
                    progress(uploaded, filesTotal)
                }
            }
            for chunk in stride(from: 0, to: removals.count, by: 1_000) {
                try await client.remove(workspace: workspace, paths: Array(removals[chunk..<min(chunk + 1_000, removals.count)]))
            }
        } catch {
            try? await client.deleteWorkspace(workspace)
            throw error
        }
        let (message, author, email) = try await message(covering: batch, after: last)
        return try await client.commit(workspace: workspace, message: message, author: author, email: email)?.id
    }

    /// The Oxen commit's message: the dataset commit's own for one, a list for several; both end
    /// with the ``trailer``.
    private func message(covering batch: [String], after last: String?) async throws -> (String, String, String) {
        let tip = batch[batch.count - 1]
        let (message, author, email) = try await commits.message(of: tip)
        if batch.count == 1 {
            return ("\(message)\n\n\(Self.trailer): \(tip)", author, email)
        }
        let shown = 200
        let subjects = try await commits.subjects(after: last, upTo: tip, limit: shown)
        var text = "Mirror \(batch.count) dataset commits \(batch[0].prefix(7))..\(tip.prefix(7))\n\n"
        if batch.count > shown { text += "(the newest \(shown) of \(batch.count))\n" }
        text += subjects.joined(separator: "\n")
        text += "\n\n\(Self.trailer): \(tip)\nDrover-Git-Commits: \(batch.count)"
        return (text, author, email)
    }

    /// The dataset commit an Oxen commit's message names in its last paragraph, if any.
    public static func mirroredCommit(in message: String) -> String? {
        let paragraphs = message.trimmingWhitespace().split(separator: "\n\n", omittingEmptySubsequences: true)
        guard let last = paragraphs.last else { return nil }
        for line in last.split(separator: "\n") where line.hasPrefix("\(trailer): ") {
            let sha = line.dropFirst(trailer.count + 2).trimmingWhitespace()
            if sha.count == 40, sha.allSatisfy(\.isHexDigit) { return sha }
        }
        return nil
    }

    // MARK: - After a crash

    /// Makes the ledger agree with Oxen: the newest Drover commit on the branch, if the ledger
    /// lacks it (Oxen committed, then the answer or the process was lost), is recorded.
    private func reconcile() async throws {
        try await client.checkRepository()
        let target = client.settings.target
        var found: (git: String, oxen: String)?
        var page = 1
        scan: while page <= 20 {
            guard let (history, hasMore) = try await client.history(page: page, pageSize: 50) else { break }
            for commit in history {
                if let sha = Self.mirroredCommit(in: commit.message) {
                    found = (sha, commit.id)
                    break scan
                }
            }
            guard hasMore else { break }
            page += 1
        }
        let last = try ledger.lastOxenMirror(target: target)
        guard let found, found.git != last?.gitCommit else { return }
        // Oxen's newest mirrored commit is older than the ledger's: nothing to learn.
        if let last, await !commits.isAncestor(last.gitCommit, of: found.git) { return }
        let head = try await commits.head()
        guard await commits.isAncestor(found.git, of: head) else {
            logger.warning("the Oxen branch names a dataset commit this dataset does not have; mirroring on from the ledger", metadata: [
                "oxen_commit": "\(found.oxen)", "commit": "\(found.git.prefix(12))",
            ])
            return
        }
        let covered = try await commits.pending(after: last?.gitCommit, head: found.git).count
        try ledger.recordOxenMirror(OxenMirrorRecord(target: target, gitCommit: found.git, oxenCommit: found.oxen, gitCommits: max(covered, 1)))
        state.withLock {
            $0.lastMirrored = found.git
            $0.lastOxenCommit = found.oxen
        }
        logger.notice("found on Oxen a mirrored commit the ledger had not recorded; recorded it, not sent again", metadata: [
            "commit": "\(found.git.prefix(12))", "oxen_commit": "\(found.oxen)",
        ])
    }
}
