import DroverCore
@testable import DroverDataset
@testable import DroverGit
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Logging
import Testing

/// A ledger and a dataset repository in a fresh temporary directory.
struct DatasetFixture {
    let directory: TemporaryDirectory
    let ledger: Ledger
    let repository: DatasetRepository
    let committer: Committer
    var git: Git { repository.git }

    init() async throws {
        try await self.init(at: TemporaryDirectory())
    }

    /// A fixture in `directory`, whose `dataset/` may hold a repository already.
    init(at directory: TemporaryDirectory) async throws {
        self.directory = directory
        ledger = try Ledger(path: directory.path + "/drover.sqlite")
        repository = try await DatasetRepository.open(at: directory.path + "/dataset")
        committer = Committer(ledger: ledger, repository: repository, doorbell: Doorbell(), logger: testLogger)
    }

    /// A fixture whose committer has loaded HEAD, with one generation of `count` images recorded.
    static func withImages(prompt: String = "an ox", count: Int) async throws -> (DatasetFixture, [ImageID]) {
        let fixture = try await DatasetFixture()
        try await fixture.committer.reconcile()
        return (fixture, try fixture.addImages(prompt: prompt, count: count))
    }

    /// Makes a dataset in `directory` whose last commit holds one image (and r1's approval of it,
    /// if `approved`), then closes it, as a stop does.
    /// - Returns: the image.
    static func committingOneImage(at directory: TemporaryDirectory, approved: Bool = false) async throws -> ImageID {
        let fixture = try await DatasetFixture(at: directory)
        try await fixture.committer.reconcile()
        let image = try fixture.addImages(prompt: "an ox", count: 1)[0]
        if approved { try fixture.vote(.up, by: "r1", on: image) }
        try await fixture.committer.commitAll()
        return image
    }

    /// A fixture whose committer has loaded HEAD, with one image and one committed vote on it (r1 approves).
    static func withACommittedVote() async throws -> (DatasetFixture, ImageID) {
        let (fixture, images) = try await withImages(count: 1)
        try fixture.vote(.up, by: "r1", on: images[0])
        try await fixture.committer.commitAll()
        return (fixture, images[0])
    }

    /// Records a generation of `count` images whose PNG bytes are made up (the committer does not decode them).
    func addImages(prompt: String, count: Int) throws -> [ImageID] {
        let generationID = UUID().uuidString
        let generation = GenerationRecord(
            id: generationID, prompt: prompt, negativePrompt: "blurry", steps: 30, guidanceScale: 7.5, width: 64, height: 64,
            model: "tiny-sd", modelVersion: "0-1", backend: "procedural", requestedBy: "web", createdAt: Date()
        )
        return try ledger.record([generation], images: (0..<count).map { index in
            let png = Data("\(generationID) \(index)".utf8)
            return ImageRecord(id: ImageID(pngBytes: png), generationID: generationID, position: index, seed: UInt32(100 + index), png: png, postedTo: nil, createdAt: Date())
        })
    }

    /// Records a generation of these PNGs.
    func addImages(prompt: String, pngs: [Data]) throws -> [ImageID] {
        let generation = GenerationRecord(
            id: UUID().uuidString, prompt: prompt, negativePrompt: nil, steps: nil, guidanceScale: nil, width: 8, height: 8,
            model: "tiny", modelVersion: "0-1", backend: "procedural", requestedBy: "web", createdAt: Date()
        )
        return try ledger.record([generation], images: pngs.enumerated().map { index, png in
            ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: index, seed: nil, png: png, postedTo: nil, createdAt: Date())
        })
    }

    func vote(_ choice: VoteChoice, by rater: String, on image: ImageID) throws {
        try ledger.database.write { db in
            _ = try Ledger.apply(VoteCommand(imageID: image, rater: rater, choice: choice, source: .web, occurredAt: Date()), in: db)
        }
    }

    /// The ledger's active votes, spelled as ``committedRows()`` spells rows.
    func ledgerRows() throws -> Set<String> {
        Set(try ledger.recentImages(limit: 500).flatMap { image in
            try ledger.votes(on: image.id).map { "\(datasetPath($0.imageID)),\($0.rating.rawValue),\($0.rater)" }
        })
    }

    func subjects() async throws -> [String] {
        try await git.run(["log", "--format=%s"]).split(separator: "\n").map(String.init)
    }

    /// train.csv as committed at HEAD, without the header, each row cut to (path, rating, rater):
    /// the part from `images/` on, after the (possibly quoted) prompt.
    func committedRows() async throws -> [String] {
        try await git.committedTrainRows().map { row in
            let path = try #require(row.range(of: ",images/")).lowerBound
            return row[row.index(after: path)...].split(separator: ",").prefix(3).joined(separator: ",")
        }
    }
}

@Suite struct DatasetRepositoryTests {
    @Test func aNewRepositoryHasTheContractLayout() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        #expect(try await fixture.git.run(["ls-files"]) == ".gitattributes\n")
        #expect(try await fixture.git.run(["show", "HEAD:.gitattributes"]).contains("annotations/**/*.csv merge=union"))
        #expect(try await fixture.subjects() == ["Create the Drover dataset"])
    }

    /// Opening takes git's lock files away; the committer's load, which runs once the server
    /// listens, puts the working tree back to the last commit.
    @Test func reopeningPutsTheWorkingTreeBackToTheLastCommit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = directory.path + "/dataset"
        _ = try await DatasetRepository.open(at: root)  // dropped at once, and its lock with it
        try Data("half-written".utf8).write(to: URL(filePath: root + "/.gitattributes"))
        try Data("stray".utf8).write(to: URL(filePath: root + "/images/0000000000000000.png"))
        _ = FileManager.default.createFile(atPath: root + "/.git/index.lock", contents: Data())
        let halfWrittenPack = root + "/.git/objects/pack/" + ObjectPack.temporaryNames(1).pack
        _ = FileManager.default.createFile(atPath: halfWrittenPack, contents: Data("PACK".utf8))
        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        #expect(!FileManager.default.fileExists(atPath: root + "/.git/index.lock"))
        #expect(!FileManager.default.fileExists(atPath: halfWrittenPack))
        #expect(try await reopened.git.run(["status", "--porcelain"]) == " M .gitattributes\n?? images/\n", "not yet")
        try await reopened.committer.reconcile()
        #expect(try await reopened.git.run(["status", "--porcelain"]) == "")
        #expect(!FileManager.default.fileExists(atPath: root + "/images/0000000000000000.png"))
    }

    /// A start after a clean stop leaves the working tree as it is (a reset reads every file: 6 s
    /// at a million images); a change to `annotations/` — a provenance line half appended when
    /// the process died, or a hand edit — brings the reset back.
    @Test func aStartResetsTheWorkingTreeOnlyIfTheAnnotationsChanged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let image = try await DatasetFixture.committingOneImage(at: directory, approved: true)
        let root = directory.path + "/dataset"
        let stray = root + "/images/00/0000000000000000.png"
        try FileManager.default.createDirectory(atPath: root + "/images/00", withIntermediateDirectories: true)
        try Data("stray".utf8).write(to: URL(filePath: stray))
        do {
            let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
            try await reopened.committer.reconcile()
            #expect(FileManager.default.fileExists(atPath: stray), "no reset")
            #expect(try await reopened.git.run(["status", "--porcelain", "--untracked-files=all"]) == "?? images/00/0000000000000000.png\n")
        }

        let provenance = URL(filePath: root + "/" + DatasetLayout.provenance(of: image))
        let handle = try FileHandle(forWritingTo: provenance)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id":"half a li"#.utf8))
        try handle.close()
        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        try await reopened.committer.reconcile()
        #expect(try await reopened.git.run(["status", "--porcelain", "--untracked-files=all"]) == "")
        #expect(!FileManager.default.fileExists(atPath: stray))
    }

    @Test func thereIsOnlyEverOneWriter() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        await #expect(throws: DatasetLockedError.self) { try await DatasetRepository.open(at: fixture.repository.directory) }
        let other = try await Command.run("python3", ["-c", """
            import fcntl, sys
            f = open(sys.argv[1], "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                print("got it")
            except BlockingIOError:
                print("held")
            """, DatasetLock.path(for: fixture.repository.directory)], in: fixture.directory.path)
        #expect(other == "held\n", "another process cannot take the lock either")
    }
}

@Suite struct CommitterTests {
    @Test func eachChangeIsOneCommitAndTrainCSVFollows() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        try await fixture.committer.reconcile()
        let image = try #require(try fixture.addImages(prompt: "an ox, eating", count: 1).first)
        try await fixture.committer.commitAll()
        try fixture.vote(.up, by: "r1", on: image)
        try await fixture.committer.commitAll()
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Approve,r1"])
        try fixture.vote(.down, by: "r1", on: image)
        try await fixture.committer.commitAll()
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Disapprove,r1"])
        try fixture.vote(.none, by: "r1", on: image)
        try await fixture.committer.commitAll()
        #expect(try await fixture.committedRows() == [])

        #expect(try await fixture.subjects() == [
            "Retract Disapprove on image \(image) by rater r1",
            "Change to Disapprove on image \(image) by rater r1 (was Approve)",
            "Approve image \(image) by rater r1",
            "Add image \(image) for \"an ox, eating\"",
            "Create the Drover dataset",
        ])
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await fixture.git.run(["status", "--porcelain"]) == "")
        #expect(try fixture.ledger.pendingChanges(limit: 10).isEmpty)
    }

    @Test func imagesAndProvenanceAreCommitted() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        try await fixture.committer.reconcile()
        let images = try fixture.addImages(prompt: "a \"quoted\" ox", count: 2)
        try await fixture.committer.commitAll()
        let committedPNG = try await fixture.git.run(["show", "HEAD:\(datasetPath(images[1]))"])
        #expect(ImageID(pngBytes: Array(committedPNG.utf8)) == images[1])
        let lines = try await fixture.git.run(["show", "HEAD:\(DatasetLayout.provenance(of: images[1]))"]).split(separator: "\n")
        #expect(try await fixture.git.committedProvenance().count == 2)
        let provenance = try JSONDecoder().decode(ImageProvenance.self, from: Data(try #require(lines.last).utf8))
        #expect(provenance.id == images[1])
        #expect(provenance.path == "\(datasetPath(images[1]))")
        #expect(provenance.prompt == "a \"quoted\" ox")
        #expect(provenance.seed == 101 && provenance.steps == 30 && provenance.guidanceScale == 7.5 && provenance.negativePrompt == "blurry")
        #expect(provenance.model == "tiny-sd" && provenance.backend == "procedural" && provenance.modelVersion == "0-1")
    }

    @Test func changesWaitingTogetherShareOneCommitThatNamesEach() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        try await fixture.committer.reconcile()
        let image = try #require(try fixture.addImages(prompt: "an ox", count: 1).first)
        try await fixture.committer.commitAll()
        for rater in ["r1", "r2", "r3"] { try fixture.vote(.up, by: rater, on: image) }
        let commits = try await fixture.committer.commitAll()
        #expect(commits.count == 1)
        let message = try await fixture.git.run(["log", "-1", "--format=%B"])
        #expect(message.hasPrefix("Record 3 changes: 0 images, 3 votes"))
        for rater in ["r1", "r2", "r3"] { #expect(message.contains("Approve image \(image) by rater \(rater)")) }
        #expect(try await fixture.committedRows().count == 3)
    }

    @Test func aCrashBetweenCommitAndLedgerRecordDoesNotCommitTwice() async throws {
        let (fixture, image) = try await DatasetFixture.withACommittedVote()
        defer { fixture.directory.remove() }
        // Undo the ledger's record of that commit, as if the process died right after `git commit`.
        try await fixture.ledger.database.write { db in
            try db.execute(sql: "UPDATE image SET commitSHA = NULL")
            try db.execute(sql: "UPDATE voteEvent SET commitSHA = NULL")
        }
        let restarted = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), logger: testLogger)
        try await restarted.reconcile()
        #expect(try await restarted.commitAll().isEmpty)
        #expect(try await fixture.subjects().count == 2)
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Approve,r1"])
    }

    @Test func aRestartedCommitterRebuildsTrainCSVFromTheLedger() async throws {
        let (fixture, image) = try await DatasetFixture.withACommittedVote()
        defer { fixture.directory.remove() }
        let restarted = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), logger: testLogger)
        try await restarted.reconcile()
        try fixture.vote(.down, by: "r2", on: image)
        try await restarted.commitAll()
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Approve,r1", "\(datasetPath(image)),Disapprove,r2"])
    }

    /// A start whose HEAD is not the committer's last commit — here the branch was reset by hand
    /// to an older one — compares every row with the ledger, and puts back the votes it lacks.
    @Test func aStartAfterAResetByHandPutsBackTheVotesTheBranchLost() async throws {
        let (fixture, image) = try await DatasetFixture.withACommittedVote()
        defer { fixture.directory.remove() }
        try fixture.vote(.down, by: "r2", on: image)
        try await fixture.committer.commitAll()
        try await fixture.git.run(["reset", "-q", "--hard", "HEAD~1"])
        let restarted = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), logger: testLogger)
        try await restarted.reconcile()
        #expect(try await fixture.subjects().first == "Reconcile the rows with the ledger: 1 row")
        #expect(try await fixture.committedRows() == ["\(datasetPath(image)),Approve,r1", "\(datasetPath(image)),Disapprove,r2"])
        #expect(try fixture.ledger.lastCommit() == (try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()))
    }
}

/// `open` once the dataset lock of a repository just dropped is free: a process that another test
/// forks meanwhile holds a copy of the lock's descriptor until it execs.
func whenUnlocked<T>(_ open: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(10)
    while true {
        do {
            return try await open()
        } catch is DatasetLockedError where ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
