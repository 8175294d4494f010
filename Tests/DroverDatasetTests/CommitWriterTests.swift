@testable import DroverGit
import DroverCore
@testable import DroverDataset
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Logging
import Testing

/// The committer writes git's objects, trees, branch and index itself; git must agree with all of it.
@Suite struct CommitWriterTests {
    @Test func aLargeRowsFileIsStoredUncompressedAndGitReadsItBack() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        try await fixture.ledger.database.write { db in
            for (index, image) in images.enumerated() {
                for rater in 0..<4_000 {
                    let command = VoteCommand(imageID: image, rater: "rater-\(rater)", choice: (index + rater) % 3 == 0 ? .down : .up, source: .web, occurredAt: Date())
                    _ = try Ledger.apply(command, in: db)
                }
            }
        }
        let committer = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), maxChangesPerCommit: 5_000, logger: testLogger)
        try await committer.commitPending()
        let path = DatasetLayout.trainCSV(of: images[0])
        let file = try #require(try FileIO.read(fixture.repository.directory + "/" + path))
        #expect(ObjectPack.storedUncompressed.contains(file.count), "a size that is stored uncompressed")
        #expect(Array(try await fixture.git.run(["show", "HEAD:\(path)"], outputLimit: 1 << 26).utf8) == file)
        #expect(try await fixture.committedRows().count == 4_000)
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await fixture.git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await fixture.git.run(["diff", "--stat", "HEAD"]).isEmpty)
    }

    /// Trees are written in path order; names where a folder's `/` sorts among its neighbours'
    /// characters (`a.b`, `a/`, `a0`) give the very tree `git write-tree` gives. A commit's
    /// objects are one pack, or several when they pass `largestPack` (here: one per file, then
    /// the trees and the commit).
    @Test(arguments: [64 << 20, 1])
    func treesAreTheOnesGitWrites(largestPack: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let git = Git(directory: directory.path)
        try await git.initialize()
        try await git.run(["commit", "-q", "--allow-empty", "-m", "Start"])
        let paths = ["a.b", "a/c", "a/d/e", "a0", "a-b/x", "b", "images/00/0123.png", "images/00/01.png", ".gitattributes"]
        for path in paths {
            if let slash = path.lastIndex(of: "/") {
                try FileManager.default.createDirectory(atPath: directory.path + "/" + path[..<slash], withIntermediateDirectories: true)
            }
            try FileIO.write(Array("content of \(path)\n".utf8), to: directory.path + "/" + path)
        }
        let writer = CommitWriter(git: git, largestPack: largestPack)
        _ = try await writer.commit(paths: Array(paths.prefix(4)), message: "Some\n")
        _ = try await writer.commit(paths: Array(paths.dropFirst(4)), message: "The rest\n")
        let packs = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/.git/objects/pack").filter { $0.hasSuffix(".pack") }
        #expect(packs.count == (largestPack == 1 ? paths.count + 2 : 2) && writer.newPacks == packs.count)
        try await git.run(["add", "-A"])
        let expected = try await git.run(["write-tree"]).trimmingWhitespace()
        #expect(try await git.run(["rev-parse", "HEAD^{tree}"]).trimmingWhitespace() == expected)
        #expect(try await git.run(["fsck", "--strict"]).isEmpty)
    }

    @Test func aCommitMadeByHandIsNeverLost() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        try fixture.vote(.up, by: "r1", on: images[0])
        try await fixture.committer.commitAll()
        try await fixture.git.run(["commit", "-q", "--allow-empty", "-m", "A note by hand"])
        try fixture.vote(.up, by: "r2", on: images[0])
        await #expect(throws: RepositoryMovedError.self) { try await fixture.committer.commitAll() }
        try await fixture.committer.commitPending()  // reloads HEAD, as the service does after a failure
        #expect(Array(try await fixture.subjects().prefix(2)) == ["Approve image \(images[0]) by rater r2", "A note by hand"])
        #expect(try await fixture.committedRows().count == 2)
        // The commit object of the attempt that found main moved is left dangling, as git leaves them.
        #expect(try await fixture.git.run(["fsck", "--strict", "--no-dangling"]).isEmpty)
    }

    /// After a start, the first commit rewrites only the trees above what it changes: the
    /// others' ids are loaded with the file list. Its objects are one pack, whose index is the
    /// very one git makes of it.
    @Test func theFirstCommitAfterAStartWritesOnlyTheTreesItChanges() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 40)
        defer { fixture.directory.remove() }
        try await fixture.committer.commitAll()
        #expect(Set(images.map(\.shard)).count > 20)
        try await fixture.git.run(["gc", "-q"])
        try await fixture.committer.commitPending()  // reconciles and loads HEAD, as at a start
        let packFolder = fixture.repository.directory + "/.git/objects/pack"
        func packs() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: packFolder).filter { $0.hasSuffix(".pack") })
        }
        let before = try packs()
        let image = try #require(try fixture.addImages(prompt: "one more ox", count: 1).first)
        try await fixture.committer.commitAll()
        let written = try packs().subtracting(before)
        #expect(written.count == 1)
        let pack = packFolder + "/" + (written.first ?? "")
        // <id> <type> <size> <size in the pack> <offset>, one line per object.
        let objects = try await fixture.git.run(["verify-pack", "-v", pack]).split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count == 5 }
        // The image, its provenance file, the commit, and the trees of the root, images/,
        // images/<shard>/, annotations/, annotations/images/, annotations/images/<shard>/.
        #expect(objects.count == 9, "\(objects.count) objects for one image in \(image.shard)")
        // Trees are stored uncompressed (``ObjectPack``): each takes more room than its content.
        let trees = objects.filter { $0[1] == "tree" }
        #expect(trees.count == 6 && trees.allSatisfy { Int($0[3]) ?? 0 > Int($0[2]) ?? .max })
        let copy = fixture.directory.path + "/copy.pack"
        try FileManager.default.copyItem(atPath: pack, toPath: copy)
        try await fixture.git.run(["index-pack", copy])
        #expect(try FileIO.read(fixture.directory.path + "/copy.idx") == (try FileIO.read(pack.replacingOccurrences(of: ".pack", with: ".idx"))))
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
    }

    /// The index as the committer writes it at a clean stop, or as `git reset --hard` writes it
    /// (a start after a crash): either way the next start reads the files, their blobs and every
    /// folder's tree back from it, and git checks the committer's cached trees against the files;
    /// an index of any other tree, or a damaged one, is not taken.
    @Test(arguments: [false, true])
    func aStartReadsTheFileListFromTheIndex(afterGitReset: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let fixture = try await DatasetFixture(at: directory)
            try await fixture.committer.reconcile()
            let images = try fixture.addImages(prompt: "an ox", count: 60)
            for image in images.prefix(10) { try fixture.vote(.up, by: "r1", on: image) }
            try await fixture.committer.commitAll()
            if afterGitReset { try await fixture.git.run(["reset", "-q", "--hard"]) }
        }
        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        let git = reopened.git
        let bytes = try #require(try FileIO.read(reopened.repository.directory + "/.git/index"))
        let tree = try await git.run(["rev-parse", "HEAD^{tree}"]).trimmingWhitespace()
        let index = try #require(IndexEntries(indexFile: bytes, tree: tree))
        let files = try await git.run(["ls-tree", "-r", "-z", "HEAD"]).split(separator: "\0").map { $0.split(separator: "\t") }
        #expect(index.paths == files.map { String($0[1]) } && index.paths.count > 120)
        #expect(index.paths.map { Hex.encode(index.entries[$0]?.blob ?? []) } == files.map { String($0[0].split(separator: " ")[2]) })
        let folders = try await git.run(["ls-tree", "-r", "-d", "-z", "HEAD"]).split(separator: "\0").map { $0.split(separator: "\t") }
        #expect(index.trees == Dictionary(uniqueKeysWithValues: folders.map { (String($0[1]), String($0[0].split(separator: " ")[2])) } + [("", tree)]))

        let parent = try await git.run(["rev-parse", "HEAD~1^{tree}"]).trimmingWhitespace()
        #expect(IndexEntries(indexFile: bytes, tree: parent) == nil, "an index of another tree")
        var damaged = bytes
        damaged[100] ^= 1
        #expect(IndexEntries(indexFile: damaged, tree: tree) == nil, "a damaged index")

        // A touched file makes `update-index --refresh` rewrite the index, which git verifies
        // first under GIT_TEST_CHECK_CACHE_TREE: a wrong tree id or file count aborts it.
        let rows = try #require(try await git.run(["ls-files", "annotations/train"]).split(separator: "\n").first)
        let copy = try await git.run(["show", "HEAD:\(rows)"])
        try Data(copy.utf8).write(to: URL(filePath: reopened.repository.directory + "/" + rows))
        _ = try await Command.run("git", ["update-index", "-q", "--refresh"], in: reopened.repository.directory, environment: ["GIT_TEST_CHECK_CACHE_TREE": "1"])

        // The start takes it, and does not write it again (a second at a million files); the
        // next commit writes only what it changes, as git would.
        let indexPath = reopened.repository.directory + "/.git/index"
        let written = try FileManager.default.attributesOfItem(atPath: indexPath)[.systemFileNumber] as? Int
        try await reopened.committer.commitPending()
        try await reopened.committer.commitAll()
        #expect(try FileManager.default.attributesOfItem(atPath: indexPath)[.systemFileNumber] as? Int == written)
        _ = try reopened.addImages(prompt: "one more ox", count: 1)
        try await reopened.committer.commitAll()
        #expect(try await git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await git.run(["fsck", "--strict"]).isEmpty)
    }

    /// A pack being written is nothing to git: a repack meanwhile neither takes it nor fails on
    /// it, and git's readers do not see it.
    @Test func aPackBeingWrittenIsNotTakenForAPack() async throws {
        let (fixture, _) = try await DatasetFixture.withImages(count: 2)
        defer { fixture.directory.remove() }
        try await fixture.committer.commitAll()
        let folder = fixture.repository.directory + "/.git/objects/pack/"
        let names = ObjectPack.temporaryNames(1)
        let half = [folder + names.pack, folder + names.index]
        for path in half { try FileIO.write(Array("half written".utf8), to: path) }
        try await fixture.git.run(["repack", "-d", "-q", "--geometric=2"])
        #expect(half.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(try await fixture.git.run(["log", "--oneline"]).split(separator: "\n").count == 2)
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
    }

    /// Each commit is a pack; once there are `packThreshold` of them, a background repack
    /// combines them, with the loose objects `git commit` made, into a few, and adds the commits
    /// to git's commit-graph.
    @Test func packsAreCombinedInTheBackground() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 2)
        defer { fixture.directory.remove() }
        let committer = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), packThreshold: 5, logger: testLogger)
        let objects = fixture.repository.directory + "/.git/objects"
        @Sendable func packs() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: objects + "/pack").filter { $0.hasSuffix(".pack") }.count
        }
        try await committer.commitPending()
        for rater in ["r1", "r2", "r3"] {
            try fixture.vote(.up, by: rater, on: images[0])
            try await committer.commitAll()
        }
        #expect(try packs() == 4, "one pack a commit, none combined yet")
        try fixture.vote(.up, by: "r4", on: images[0])
        try await committer.commitAll()
        try await eventually("the packs combined, no loose objects, and the commits in git's commit-graph") {
            let loose = try await fixture.git.run(["count-objects"]).hasPrefix("0 objects")
            return try packs() <= 2 && loose && fixture.repository.newPacks == 0
                && FileManager.default.fileExists(atPath: objects + "/info/commit-graphs/commit-graph-chain")
        }
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await fixture.git.run(["commit-graph", "verify"]).isEmpty)
        #expect(try await fixture.committedRows().count == 4)
    }
}
