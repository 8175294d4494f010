import DroverCore
import Foundation
import Synchronization

/// Makes commits of the working tree's files without starting git: each file becomes a blob,
/// the trees that changed are rewritten, then the commit object — all in one pack
/// (``ObjectPack``) — then `main` is moved: git's own steps (`hash-object -w`, `write-tree`,
/// `commit-tree`, `update-ref`), in one process. `.git/index` is written by ``writeIndex()``,
/// which the committer calls when it has nothing more to commit: the index lists every file of
/// the dataset, and rewriting it with each commit would make a commit's cost grow with the
/// dataset. What HEAD holds is loaded from git once, and again after ``reset()``.
///
/// Written by hand because no maintained Swift library writes git objects, and starting `git`
/// for each commit costs more than the commit (`benchmarks/commit`); the rest of Drover uses
/// the git CLI (``Git``).
public final class CommitWriter: Sendable {
    private struct State {
        var head: String
        var index: IndexEntries
        /// Whether `.git/index` holds ``index`` already.
        var indexWritten: Bool
    }

    private let git: Git
    private let packDirectory: String
    private let largestPack: Int
    private let branch: MainBranch
    private let state = Mutex<State?>(nil)
    private let packs = Mutex(0)

    /// A writer for the repository `git` runs in (files refs, SHA-1 objects).
    /// - Parameter largestPack: a commit's pack is written out and another begun once it holds
    ///   this many bytes, so that a commit of a thousand large images does not hold them all in
    ///   memory at once.
    public init(git: Git, largestPack: Int = 64 << 20) {
        self.git = git
        self.largestPack = largestPack
        packDirectory = git.directory + "/.git/objects/pack"
        branch = MainBranch(gitDirectory: git.directory + "/.git")
    }

    /// Packs written since ``didCombinePacks(_:)``: one per commit, which the committer
    /// combines now and then (`git repack --geometric`), so that git does not look through
    /// thousands of packs for an object.
    public var newPacks: Int { packs.withLock { $0 } }

    /// Says that `count` of the ``newPacks`` are combined now.
    public func didCombinePacks(_ count: Int) {
        packs.withLock { $0 = max(0, $0 - count) }
    }

    /// Removes the packs a writer was writing when its process died (``ObjectPack`` names them
    /// so that git ignores them, and no ref names what they hold): call it at start, holding the
    /// dataset's lock.
    public static func removeUnfinishedPacks(inRepository directory: String) {
        let folder = directory + "/.git/objects/pack"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(ObjectPack.temporaryPrefix) {
            unlink(folder + "/" + name)
        }
    }

    /// Forgets what was loaded: the next commit reads HEAD and the index from git again.
    public func reset() {
        state.withLock { $0 = nil }
    }

    /// Commits `paths` as they are in the working tree, on top of HEAD.
    /// - Returns: the new commit's id.
    /// - Throws: ``RepositoryMovedError`` if `main` moved since it was loaded (the state is
    ///   dropped, so the caller may reload and retry), or ``GitWriteError``.
    public func commit(paths: [String], message: String, at date: Date = Date()) async throws -> String {
        // Taken out of `state` while it changes, so that changing it copies nothing: a copy of
        // its file list would cost as much as the dataset has files.
        var current = try await loaded(taking: true)
        do {
            var pack = ObjectPack()
            for path in paths {
                guard let bytes = try FileIO.read(git.directory + "/" + path) else { throw GitWriteError("no file \(path) to commit") }
                try current.index.update(path, blob: try pack.add(.blob, bytes), directory: git.directory)
                if pack.size >= largestPack {
                    try pack.write(to: packDirectory)
                    packs.withLock { $0 += 1 }
                    pack = ObjectPack()
                }
            }
            let tree = try current.index.writeTrees(to: &pack)
            let signature = "Drover <drover@localhost> \(Int(date.timeIntervalSince1970)) +0000"
            let body = "tree \(tree)\nparent \(current.head)\nauthor \(signature)\ncommitter \(signature)\n\n\(message)"
            let commit = try pack.add(.commit, Array(body.utf8))
            try pack.write(to: packDirectory)
            packs.withLock { $0 += 1 }
            try branch.move(from: current.head, to: commit, subject: String(message.prefix { $0 != "\n" }))
            current.head = commit
            current.indexWritten = false
            state.withLock { $0 = current }
            return commit
        } catch {
            reset()
            throw error
        }
    }

    /// Writes `.git/index` for the last commit, if it does not hold it yet, so that `git status`
    /// finds the working tree clean. Call it between commits, not during one. A git command of
    /// the user's (`git status` refreshing the index) may hold `index.lock`; it would then put
    /// back the index it read, so the write is tried again until it lands, for a while — the
    /// next call writes it otherwise.
    public func writeIndex() async throws {
        guard let current = state.withLock({ $0 }), !current.indexWritten else { return }
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            if try current.index.writeIndexFile(gitDirectory: git.directory + "/.git") {
                state.withLock { if $0?.head == current.head { $0?.indexWritten = true } }
                return
            }
            guard ContinuousClock.now < deadline else { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Loads what HEAD holds now (every file and its blob), so that the next commit need not.
    public func load() async throws {
        let loaded = try await loaded(taking: false)
        state.withLock { if $0 == nil { $0 = loaded } }
    }

    /// What HEAD holds: as known, or loaded from git. `taking` leaves `state` empty meanwhile.
    private func loaded(taking: Bool) async throws -> State {
        if let known = state.withLock({ known in
            defer { if taking { known = nil } }
            return known
        }) { return known }
        guard let head = try branch.read() else { throw GitWriteError("the dataset has no commit on main") }
        let (index, isIndexFile) = try await IndexEntries.load(git, commit: head)
        return State(head: head, index: index, indexWritten: isIndexFile)
    }
}
