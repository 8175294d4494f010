import DroverGit
import DroverCore
import Dispatch
import Foundation

/// The dataset's git repository, in the ``DatasetLayout``.
///
/// Only the ``Committer`` writes through it.
public struct DatasetRepository: Sendable {

    /// The repository's working tree.
    public let directory: String
    /// git, run in ``directory``.
    public let git: Git
    /// How commits are made.
    public enum CommitMethod: Sendable {
        /// Objects, trees, the commit, the branch and the index written directly (``CommitWriter``): no process per commit.
        case objects
        /// `git add`, `git commit`, `git rev-parse`: three processes per commit; slower, kept to compare with.
        case gitCommands
    }

    /// Held as long as any copy of this value lives.
    private let lock: DatasetLock
    private let writer: CommitWriter?

    init(directory: String, lock: DatasetLock, method: CommitMethod) {
        self.directory = directory
        self.git = Git(directory: directory)
        self.lock = lock
        self.writer = method == .objects ? CommitWriter(git: git) : nil
    }

    /// Opens the repository at `directory` for writing: takes the ``DatasetLock`` (so that there
    /// is only ever one writer), creates the repository with the empty layout and a first commit
    /// if it does not exist, and removes git's lock files and the committer's half-written packs
    /// (a crash may have left them). What a crash left in the working tree is the
    /// ``Committer``'s to put back when it loads (``restoreIfChanged()``), after the server
    /// listens.
    /// - Throws: ``DatasetLockedError`` if another process (or another value in this one) writes it.
    public static func open(at directory: String, commitMethod: CommitMethod = .objects) async throws -> DatasetRepository {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let repository = DatasetRepository(directory: directory, lock: try DatasetLock.acquire(for: directory), method: commitMethod)
        if !fileManager.fileExists(atPath: directory + "/.git") {
            try fileManager.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
            try await repository.git.initialize()
            try repository.write(Data(DatasetLayout.gitattributes.utf8), to: ".gitattributes")
            try await repository.git.run(["add", "--", ".gitattributes"])
            try await repository.git.run(["commit", "-q", "--no-verify", "-F", "-"], input: "Create the Drover dataset\n")
        } else {
            // Holding the dataset lock, at start: a lock file of git's is one a commit of this
            // committer left when the process died (kill -9 halfway through a commit).
            for lock in [".git/index.lock", ".git/refs/heads/main.lock"] {
                try? fileManager.removeItem(atPath: directory + "/" + lock)
            }
            // And so is a pack it was writing.
            CommitWriter.removeUnfinishedPacks(inRepository: directory)
            let head = String(decoding: try FileIO.read(directory + "/.git/HEAD") ?? [], as: UTF8.self)
            guard head == "ref: refs/heads/main\n" else {
                throw DatasetBranchError(directory: directory, head: head.trimmingWhitespace())
            }
        }
        try? fileManager.removeItem(atPath: repository.retiredDirectory)
        try fileManager.createDirectory(atPath: repository.retiredDirectory, withIntermediateDirectories: true)
        return repository
    }

    /// Puts the working tree back to HEAD (``restoreWorkingTree()``) if `annotations/` and
    /// `.gitattributes` — the files a commit appends to or reads back — are not as HEAD has them,
    /// or have something untracked among them: one `git status`, which reads the index but not a
    /// million images. A crash halfway through a commit, a failed commit or a hand edit leaves
    /// them otherwise; what those leave in `images/` is harmless: images are written whole, under
    /// their content's name, and only committed by name. So a start after a clean stop skips the
    /// reset, whose cost grows with the dataset (5 s at a million images).
    /// - Returns: whether it restored.
    func restoreIfChanged() async throws -> Bool {
        let changes = try await git.run(["--no-optional-locks", "status", "--porcelain", "--untracked-files=all", "--no-renames", "--", "annotations", ".gitattributes"])
        guard !changes.isEmpty else { return false }
        try await restoreWorkingTree()
        return true
    }

    /// Puts the working tree and the index back to HEAD: files written for a commit that did not
    /// happen go.
    private func restoreWorkingTree() async throws {
        writer?.reset()
        try await git.run(["reset", "-q", "--hard", "HEAD"])
        try await git.run(["clean", "-q", "-f", "-d", "--", "images", "annotations"])
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
    }

    /// Forgets what the commit writer loaded: HEAD may have moved (a merge made by hand).
    func reload() {
        writer?.reset()
    }

    /// The hash of the commit at HEAD.
    func head() async throws -> String {
        try await git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
    }

    /// A file of the working tree, `nil` if there is none.
    func read(_ path: String) throws -> String? {
        try FileIO.read(directory + "/" + path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The full message of the commit at HEAD.
    public func headMessage() async throws -> String {
        try await git.run(["log", "-1", "--format=%B"])
    }

    /// Commits the files as they are in the working tree, on top of HEAD.
    /// - Returns: the new commit's hash.
    func commit(paths: [String], message: String) async throws -> String {
        if let writer { return try await writer.commit(paths: paths, message: message) }
        try await git.run(["add", "--"] + paths)
        try await git.run(["commit", "-q", "--no-verify", "-F", "-"], input: message)
        return try await git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
    }

    /// Loads what HEAD holds for the next commit (``CommitWriter/load()``), at start rather than
    /// in the first commit.
    func loadHead() async throws {
        try await writer?.load()
    }

    /// Brings `.git/index` up to date with the last commit (``CommitWriter/writeIndex()``).
    func writeIndex() async throws {
        try await writer?.writeIndex()
    }

    /// The packs the committer wrote (one per commit) since they were last combined.
    var newPacks: Int { writer?.newPacks ?? 0 }

    /// Combines the small packs, and any loose objects, so that each pack holds at least twice
    /// the objects of the next smaller one (`git repack -d --geometric=2`: a few packs, and a
    /// repack that reads the small ones, not the whole dataset), and adds the new commits to
    /// git's commit-graph file (whose dates the dashboard reads): what `gc --auto` does after
    /// `git commit`. Safe while commits go on: it combines only the packs there were when it
    /// started, keeping every object in them, reachable yet or not, and does not touch refs.
    func pack() async throws {
        let before = newPacks
        try await git.run(["repack", "-d", "-q", "--geometric=2"])
        writer?.didCombinePacks(before)
        try await git.run(["commit-graph", "write", "--reachable", "--split", "--no-progress"])
    }

    /// Replaces a file in the working tree atomically (written beside it, then renamed), so that
    /// a reader never sees half of it.
    ///
    /// The old version is first linked into `.git/drover-retired/` and deleted from there in the
    /// background: freeing the blocks of a file of megabytes (a rows or provenance shard) takes milliseconds —
    /// more on a filesystem mounted with `discard` — that a commit need not wait for.
    func write(_ data: some ContiguousBytes, to path: String) throws {
        let target = directory + "/" + path
        let slash = target.lastIndex(of: "/") ?? target.startIndex
        try createFolder(of: target)
        let temporary = String(target[..<slash] + "/." + target[target.index(after: slash)...] + ".tmp")
        try FileIO.write(data, to: temporary)
        let retired = retiredDirectory + "/\(UInt64.random(in: 0...UInt64.max))"
        let keptOld = link(target, retired) == 0
        guard rename(temporary, target) == 0 else {
            if keptOld { unlink(retired) }
            throw GitWriteError("cannot replace \(target)")
        }
        if keptOld { Self.reaper.async { unlink(retired) } }
    }

    /// Where replaced files wait to be deleted; emptied when the repository is opened.
    private var retiredDirectory: String { directory + "/.git/drover-retired" }

    /// Deletes retired files, one at a time, off the commit path.
    private static let reaper = DispatchQueue(label: "drover.retired-files", qos: .utility)

    /// Appends to a file in the working tree, creating it (and its folder) if need be.
    func append(_ text: String, to path: String) throws {
        let target = directory + "/" + path
        try createFolder(of: target)
        try FileIO.append(Array(text.utf8), to: target)
    }

    /// Makes the folder that the file at `path` (absolute) goes in, if it is missing: a shard's
    /// folder appears with its first file.
    private func createFolder(of path: String) throws {
        try FileManager.default.createDirectory(atPath: String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]), withIntermediateDirectories: true)
    }

    /// Moves a dataset made in an older layout into the current ``DatasetLayout``, in one commit
    /// that says what moved: images from `images/<id>.png` to `images/<shard>/<id>.png`; rows from
    /// `annotations/train.csv` or `annotations/train/<shard>.csv` to
    /// `annotations/train/<shard>/<first three>.csv` (each row's path naming the image's place,
    /// rows in their order); provenance lines from `annotations/images.jsonl` or
    /// `annotations/images/<shard>.jsonl` to `annotations/images/<shard>/<first three>.jsonl`
    /// (each line's bytes kept but its path). A crash halfway leaves HEAD as it was, and the
    /// next open moves it again.
    /// - Returns: the commit, or `nil` if the dataset is in the current layout already.
    func moveToCurrentLayout() async throws -> String? {
        let fileManager = FileManager.default
        // The files of an older layout: the unsharded one, then those directly in the shards' folder.
        func oldFiles(_ unsharded: String, in folder: String, ending: String) -> [String] {
            let sharded = ((try? fileManager.contentsOfDirectory(atPath: directory + "/" + folder)) ?? [])
                .filter { $0.hasSuffix(ending) }.sorted().map { folder + "/" + $0 }
            return ([unsharded] + sharded).filter { fileManager.fileExists(atPath: directory + "/" + $0) }
        }
        let oldRows = oldFiles(DatasetLayout.unshardedTrainCSV, in: DatasetLayout.trainFolder, ending: ".csv")
        let oldProvenance = oldFiles(DatasetLayout.unshardedProvenance, in: DatasetLayout.provenanceFolder, ending: ".jsonl")
        guard !oldRows.isEmpty || !oldProvenance.isEmpty else { return nil }
        var images = 0
        var body: [String] = []
        for name in try fileManager.contentsOfDirectory(atPath: directory + "/images") where name.hasSuffix(".png") {
            guard let id = ImageID(validating: name.dropLast(".png".count)) else { continue }
            try fileManager.createDirectory(atPath: directory + "/images/" + id.shard, withIntermediateDirectories: true)
            try fileManager.moveItem(atPath: directory + "/images/" + name, toPath: directory + "/" + id.datasetPath)
            images += 1
        }
        if images > 0 {
            body.append("""
                Images move from images/<id>.png to images/<shard>/<id>.png, where <shard>
                is the first two hex digits of the image id.
                """)
        }
        var rowCount = 0
        if !oldRows.isEmpty {
            var rowShards: [String: [[String]]] = [:]
            for path in oldRows {
                for row in try SeedRow.rows(in: String(decoding: try FileIO.read(directory + "/" + path) ?? [], as: UTF8.self)) {
                    guard let id = row.imageID else {
                        throw ExportError("\(path) line \(row.line): path \"\(row.path)\" is not images/<shard>/<id>.png")
                    }
                    var fields = row.fields
                    fields[1] = id.datasetPath
                    rowShards[DatasetLayout.trainCSV(of: id), default: []].append(fields)
                    rowCount += 1
                }
                try fileManager.removeItem(atPath: directory + "/" + path)
            }
            for (path, rows) in rowShards { try write(Data(CSV.document(header: TrainingRow.columns, rows: rows).utf8), to: path) }
            body.append("""
                The rows move from \(Self.describe(oldRows, sharded: "\(DatasetLayout.trainFolder)/<shard>.csv"))
                to \(DatasetLayout.trainFolder)/<shard>/<first three>.csv (the first three hex digits of the
                image id), in their order; each row's path names the image's place.
                `drover export --format seed-csv` writes the single train.csv.
                """)
        }
        var provenanceLines = 0
        if !oldProvenance.isEmpty {
            var provenance: [String: String] = [:]
            for path in oldProvenance {
                for line in String(decoding: try FileIO.read(directory + "/" + path) ?? [], as: UTF8.self).split(separator: "\n") {
                    guard let start = line.range(of: #""id":""#)?.upperBound, let id = ImageID(validating: line[start...].prefix(16)) else {
                        throw ExportError("\(path): a line names no image id: \(line.prefix(80))")
                    }
                    let moved = line.replacingOccurrences(of: #""path":"images/\#(id).png""#, with: #""path":"\#(id.datasetPath)""#)
                    provenance[DatasetLayout.provenance(of: id), default: ""] += moved + "\n"
                    provenanceLines += 1
                }
                try fileManager.removeItem(atPath: directory + "/" + path)
            }
            for (path, lines) in provenance { try append(lines, to: path) }
            body.append("""
                The images' provenance moves from \(Self.describe(oldProvenance, sharded: "\(DatasetLayout.provenanceFolder)/<shard>.jsonl"))
                to \(DatasetLayout.provenanceFolder)/<shard>/<first three>.jsonl, each line as it was but its path.
                """)
        }
        try write(Data(DatasetLayout.gitattributes.utf8), to: ".gitattributes")
        try await git.run(["add", "-A", "--", ".gitattributes", "images", "annotations"])
        let message = """
            Move the dataset to the current layout

            \(body.joined(separator: "\n\n"))

            A commit now rewrites a small part of the dataset's listing and files, not all of it.

            \(images) images, \(rowCount) rows and \(provenanceLines) provenance lines moved.

            """
        try await git.run(["commit", "-q", "--no-verify", "-F", "-"], input: message)
        writer?.reset()
        return try await head()
    }

    /// Names the old files a move takes from: the one unsharded file, or the pattern of the
    /// two-digit shards' files (both, for a dataset caught halfway between the layouts).
    private static func describe(_ files: [String], sharded pattern: String) -> String {
        let unsharded = files.filter { !$0.dropFirst("annotations/".count).contains("/") }
        return (unsharded + (files.count > unsharded.count ? [pattern] : [])).joined(separator: " and ")
    }
}

/// The dataset's repository has another branch (or a detached HEAD) checked out: Drover commits
/// to `main` only, and will not reset someone's work on another branch.
public struct DatasetBranchError: Error, CustomStringConvertible {
    public var directory: String
    public var head: String

    public var description: String {
        "the dataset repository must have main checked out, but HEAD is \"\(head.prefix(100))\": run `git -C \(directory) checkout main`"
    }
}
