import DroverGit
import DroverCore
@testable import DroverDataset
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Logging
import Testing

/// Two Drover deployments that started from the same dataset both commit votes; one merges the
/// other's branch with plain git. `train.csv` and `images.jsonl` are `merge=union`, and the
/// committer only ever appends new rows and edits or removes rows in place, so the branches'
/// changes meet only at the end of the file, where union keeps both sides — including a row one
/// side removed there, which the committer takes out again from its ledger at start.
@Suite struct MergeTests {
    @Test func twoBranchesThatBothAppendedVotesMergeWithoutConflict() async throws {
        let main = try await DatasetFixture()
        defer { main.directory.remove() }
        try await main.committer.reconcile()
        let shared = try #require(try main.addImages(prompt: "an ox", count: 1).first)
        try main.vote(.up, by: "r0", on: shared)
        try main.vote(.up, by: "r9", on: shared)
        try await main.committer.commitAll()

        // The other deployment: a clone of the dataset, its own ledger that knows the shared image.
        let otherDirectory = try TemporaryDirectory()
        defer { otherDirectory.remove() }
        try await Command.run("git", ["clone", "-q", main.repository.directory, otherDirectory.path + "/dataset"], in: otherDirectory.path)
        let other = try await DatasetFixture(at: otherDirectory)
        try other.adopt(shared, from: main.ledger)

        // Both append votes and add an image; main also changes r0's rating and retracts r9's.
        let mainImage = try #require(try main.addImages(prompt: "an ox, main", count: 1).first)
        try main.vote(.down, by: "r0", on: shared)
        try main.vote(.none, by: "r9", on: shared)
        try main.vote(.up, by: "r1", on: mainImage)
        try await main.committer.commitAll()
        try await other.committer.reconcile()
        let otherImage = try #require(try other.addImages(prompt: "an ox, other", count: 1).first)
        try other.vote(.up, by: "r2", on: shared)
        try other.vote(.down, by: "r3", on: otherImage)
        try await other.committer.commitAll()

        try await main.git.run(["fetch", "-q", other.repository.directory, "main"])
        try await main.git.run(["merge", "-q", "--no-edit", "FETCH_HEAD"])  // throws on a conflict
        // Union merge keeps both sides where the branches met — main changed its last two rows,
        // other appended after them — so r0's old 👍 and r9's retracted row come back; the
        // committer puts them right from its ledger at start.
        let union = try await main.committedRows()
        #expect(union.contains("\(datasetPath(shared)),Approve,r9") && union.contains("\(datasetPath(shared)),Approve,r0"))
        let restarted = Committer(ledger: main.ledger, repository: main.repository, doorbell: Doorbell(), logger: testLogger)
        try await restarted.reconcile()
        #expect(try await main.subjects().first == "Reconcile the rows with the ledger: 2 rows")
        let merged = try await main.committedRows()
        #expect(merged.count == Set(merged).count, "no row twice")
        #expect(Set(merged) == [
            "\(datasetPath(shared)),Disapprove,r0", "\(datasetPath(mainImage)),Approve,r1",
            "\(datasetPath(shared)),Approve,r2", "\(datasetPath(otherImage)),Disapprove,r3",
        ])
        #expect(try await main.git.committedTrainHeader() == "prompt,path,rating,rater,model_version,voted_at,source")
        let provenance = try await main.git.committedProvenance()
        #expect(provenance.count == 3 && Set(provenance).count == 3)
        #expect(try await main.git.run(["ls-files", "images"]).split(separator: "\n").count == 3)

        // The committer keeps the rows it did not write.
        try main.vote(.up, by: "r4", on: mainImage)
        try await restarted.commitAll()
        #expect(Set(try await main.committedRows()) == Set(merged + ["\(datasetPath(mainImage)),Approve,r4"]))
        #expect(try await main.git.run(["fsck", "--strict"]).isEmpty)
    }
}

extension DatasetFixture {
    /// Records an image that `ledger` holds, as committed already: this deployment's dataset came
    /// from a clone that has it.
    func adopt(_ image: ImageID, from other: Ledger) throws {
        let change = try #require(try other.pendingOrCommittedImage(image))
        try ledger.record([change.generation], images: [change.image])
        try ledger.markCommitted(images: [image], voteEvents: [], commitSHA: change.image.commitSHA ?? "")
    }
}

extension Ledger {
    /// An image and its generation, read back.
    func pendingOrCommittedImage(_ id: ImageID) throws -> (image: ImageRecord, generation: GenerationRecord)? {
        try database.read { db in
            guard let image = try ImageRecord.fetchOne(db, key: id), let generation = try GenerationRecord.fetchOne(db, key: image.generationID) else {
                return nil
            }
            return (image, generation)
        }
    }
}
