import DroverCore
@testable import DroverDataset
import DroverGit
import DroverTestSupport
import Foundation
import Testing

/// A dataset made before the sharded layout is moved into it once, in one commit, losing and
/// changing nothing but the paths; its old commits still export.
@Suite struct LayoutMigrationTests {
    @Test func aDatasetInTheOldLayoutIsMovedOnceInOneCommitThatSaysSo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let header = CSV.line(TrainingRow.columns)
        let images: [ImageID], rows: [String], provenance: [String], oldCommit: String
        do {
            let fixture = try await DatasetFixture(at: directory)
            try await fixture.committer.reconcile()
            images = try fixture.addImages(prompt: "an \"old\" ox, with a comma", count: 6)
            for (index, image) in images.enumerated() { try fixture.vote(index % 2 == 0 ? .up : .down, by: "r\(index)", on: image) }
            try fixture.vote(.up, by: "r9", on: images[0])
            try await fixture.committer.commitAll()
            rows = try await fixture.git.committedTrainRows()
            provenance = try await fixture.git.committedProvenance()
            #expect(rows.count == 7 && provenance.count == 6)

            // The same dataset as the Drover before shards kept it, committed by hand.
            let root = fixture.repository.directory
            func unsharded(_ line: String) -> String {
                images.reduce(line) { $0.replacingOccurrences(of: $1.datasetPath, with: "images/\($1).png") }
            }
            try Data((header + rows.map { unsharded($0) + "\n" }.joined()).utf8).write(to: URL(filePath: root + "/annotations/train.csv"))
            try Data(provenance.map { unsharded($0) + "\n" }.joined().utf8).write(to: URL(filePath: root + "/annotations/images.jsonl"))
            for image in images { try await fixture.git.run(["mv", image.datasetPath, "images/\(image).png"]) }
            try await fixture.git.run(["rm", "-r", "-q", "annotations/train", "annotations/images"])
            try Data("annotations/*.csv merge=union\nannotations/*.jsonl merge=union\n*.png binary\n".utf8).write(to: URL(filePath: root + "/.gitattributes"))
            try await fixture.git.run(["add", "-A"])
            try await fixture.git.run(["commit", "-q", "-m", "The layout before shards"])
            oldCommit = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
            #expect(try await fixture.git.run(["ls-files", "images"]).split(separator: "\n").allSatisfy { $0.split(separator: "/").count == 2 })
        }

        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        try await reopened.committer.commitPending()
        #expect(try await reopened.subjects().prefix(2) == ["Move the dataset to the current layout", "The layout before shards"])
        #expect(try await reopened.repository.headMessage().contains("6 images, 7 rows and 6 provenance lines moved."))
        #expect(try await reopened.git.committedTrainRows() == rows, "every row, in its order, with its new path")
        #expect(try await reopened.git.committedProvenance().sorted() == provenance.sorted(), "every line's bytes but its path")
        #expect(try await reopened.git.run(["ls-files", "annotations/images"]).split(separator: "\n").allSatisfy { DatasetLayout.isCurrentProvenanceFile(String($0)) })
        #expect(Set(try await reopened.git.run(["ls-files", "images"]).split(separator: "\n").map(String.init)) == Set(images.map(\.datasetPath)))
        #expect(try await reopened.git.run(["show", "HEAD:.gitattributes"]) == DatasetLayout.gitattributes)
        #expect(try await reopened.git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await reopened.git.run(["fsck", "--strict", "--no-dangling"]).isEmpty)
        // The move changes every row and image: a history lists them up to its limit.
        let history = DatasetHistory(directory: reopened.repository.directory)
        let listed = try await history.show("HEAD")
        #expect(listed.removedRows.count == 7 && listed.addedRows.count == 7 && listed.addedImages.count == 6 && listed.rowsNotListed == 0)
        let moved = try await history.show("HEAD", listing: 5)
        #expect(moved.addedRows.isEmpty && moved.removedRows.isEmpty && moved.rowsNotListed > 14, "rows and headers, counted")
        #expect(moved.addedImages.count == 5 && moved.imagesNotListed == 1)

        // Once: the next start finds nothing to move, and votes land in their shards.
        try await reopened.committer.commitPending()
        try reopened.vote(.down, by: "r10", on: images[1])
        try await reopened.committer.commitAll()
        #expect(try await reopened.subjects().count == 5)
        #expect(try await reopened.committedRows().contains("\(images[1].datasetPath),Disapprove,r10"))

        // A commit from before still exports, its paths as they were then.
        let export = directory.path + "/export"
        let summary = try await DatasetHistory(directory: reopened.repository.directory).export(.seedCSV, at: oldCommit, to: export)
        #expect(summary.records == 7 && summary.images == 6)
        let exported = try String(contentsOfFile: export + "/annotations/train.csv", encoding: .utf8)
        #expect(exported.contains("images/\(images[0]).png") && FileManager.default.fileExists(atPath: export + "/images/\(images[0]).png"))
    }

    /// Provenance kept in one file per two-digit shard (`annotations/images/<shard>.jsonl`) moves
    /// to the three-digit files, once; rows and images stay where they are.
    @Test func provenanceInTwoDigitShardsMovesToThreeDigitShardsOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let images: [ImageID], rows: [String], provenance: [String]
        do {
            let fixture = try await DatasetFixture(at: directory)
            try await fixture.committer.reconcile()
            images = try fixture.addImages(prompt: "an ox", count: 40)
            try fixture.vote(.up, by: "r1", on: images[0])
            try await fixture.committer.commitAll()
            rows = try await fixture.git.committedTrainRows()
            provenance = try await fixture.git.committedProvenance()
            // Back to one file per two-digit shard, committed by hand.
            let root = fixture.repository.directory
            for shard in Set(images.map(\.shard)) {
                let lines = try await fixture.git.committedProvenance().filter { $0.contains(#""id":"\#(shard)"#) }
                try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(filePath: root + "/annotations/images/\(shard).jsonl"))
                try await fixture.git.run(["rm", "-r", "-q", "annotations/images/\(shard)"])
            }
            try await fixture.git.run(["add", "-A"])
            try await fixture.git.run(["commit", "-q", "-m", "Provenance in two-digit shards"])
            #expect(try await fixture.git.committedProvenance().sorted() == provenance.sorted())
        }

        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        try await reopened.committer.commitPending()
        #expect(try await reopened.subjects().prefix(2) == ["Move the dataset to the current layout", "Provenance in two-digit shards"])
        #expect(try await reopened.repository.headMessage().contains("0 images, 0 rows and 40 provenance lines moved."))
        #expect(try await reopened.git.committedProvenance().sorted() == provenance.sorted())
        let files = try await reopened.git.run(["ls-files", "annotations/images"]).split(separator: "\n").map(String.init)
        #expect(Set(files) == Set(images.map { DatasetLayout.provenance(of: $0) }))
        #expect(try await reopened.git.committedTrainRows() == rows)
        #expect(try await reopened.git.run(["diff", "--name-only", "HEAD~1", "HEAD", "--", "images", "annotations/train"]).isEmpty)
        #expect(try await reopened.git.run(["status", "--porcelain"]).isEmpty)

        try await reopened.committer.commitPending()  // what the next start does
        #expect(try await reopened.subjects().count == 4, "moved once")
    }
}
