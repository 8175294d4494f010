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
        let path = DatasetLayout.trainCSV(images[0].shard)
        let file = try #require(try FileIO.read(fixture.repository.directory + "/" + path))
        #expect(LooseObjects.storedUncompressed.contains(file.count), "a size that is stored uncompressed")
        #expect(Array(try await fixture.git.run(["show", "HEAD:\(path)"], outputLimit: 1 << 26).utf8) == file)
        #expect(try await fixture.committedRows().count == 4_000)
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await fixture.git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await fixture.git.run(["diff", "--stat", "HEAD"]).isEmpty)
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
    /// others' ids are loaded with the file list.
    @Test func theFirstCommitAfterAStartWritesOnlyTheTreesItChanges() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 40)
        defer { fixture.directory.remove() }
        try await fixture.committer.commitAll()
        #expect(Set(images.map(\.shard)).count > 20)
        try await fixture.git.run(["gc", "-q"])
        try await fixture.committer.commitPending()  // reconciles and loads HEAD, as at a start
        func looseObjects() throws -> Set<String> {
            let objects = fixture.repository.directory + "/.git/objects"
            return Set(try FileManager.default.contentsOfDirectory(atPath: objects).filter { $0.count == 2 }.flatMap { folder in
                try FileManager.default.contentsOfDirectory(atPath: objects + "/" + folder).map { folder + $0 }
            })
        }
        let before = try looseObjects()
        let image = try #require(try fixture.addImages(prompt: "one more ox", count: 1).first)
        try await fixture.committer.commitAll()
        let written = try looseObjects().subtracting(before)
        // The image, its provenance file, the commit, and the trees of the root, images/,
        // images/<shard>/, annotations/, annotations/images/, annotations/images/<shard>/.
        #expect(written.count == 9, "\(written.count) objects for one image in \(image.shard)")
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
    }

    @Test func looseObjectsArePackedInTheBackground() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 2)
        defer { fixture.directory.remove() }
        let committer = Committer(ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), packThreshold: 1, logger: testLogger)
        try await withService(committer) {
            try fixture.vote(.up, by: "r1", on: images[0])
            try await eventually("a pack") {
                let packs = try FileManager.default.contentsOfDirectory(atPath: fixture.repository.directory + "/.git/objects/pack")
                return packs.contains { $0.hasSuffix(".pack") } && fixture.repository.unpackedBytes == 0
            }
        }
        #expect(try await fixture.git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await fixture.committedRows() == ["\(datasetPath(images[0])),Approve,r1"])
    }
}
