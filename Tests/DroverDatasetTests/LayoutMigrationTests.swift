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
        #expect(Set(try await reopened.git.run(["ls-files", "annotations/images"]).split(separator: "\n").map(String.init)) == Set(images.map { DatasetLayout.provenance(of: $0) }))
        #expect(Set(try await reopened.git.run(["ls-files", "annotations/train"]).split(separator: "\n").map(String.init)) == Set(images.map { DatasetLayout.trainCSV(of: $0) }))
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

    /// Rows kept in one file per two-digit shard (`annotations/train/<shard>.csv`), and — in the
    /// layout before that — provenance too (`annotations/images/<shard>.jsonl`), move to the
    /// three-digit files once; images stay where they are, rows keep their order.
    @Test(arguments: [false, true])
    func twoDigitShardsMoveToThreeDigitShardsOnce(provenanceToo: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let images: [ImageID], twoDigitRows: [String: [String]], provenance: [String]
        do {
            let fixture = try await DatasetFixture(at: directory)
            try await fixture.committer.reconcile()
            // Enough images that some two-digit shards hold several three-digit ones.
            images = try fixture.addImages(prompt: "an ox", count: 100)
            for (index, image) in images.enumerated() { try fixture.vote(index % 3 == 0 ? .down : .up, by: "r\(index % 7)", on: image) }
            try await fixture.committer.commitAll()
            provenance = try await fixture.git.committedProvenance()
            let rows = try await fixture.git.committedTrainRows()
            #expect(rows.count == 100)
            // Back to one file per two-digit shard, committed by hand, each file's rows in reverse
            // order (so that keeping the order is seen).
            twoDigitRows = Dictionary(grouping: rows.reversed(), by: { String($0.components(separatedBy: ",images/")[1].prefix(2)) })
            let root = fixture.repository.directory
            try await fixture.git.run(["rm", "-r", "-q", "annotations/train"])
            try FileManager.default.createDirectory(atPath: root + "/annotations/train", withIntermediateDirectories: true)
            for (shard, lines) in twoDigitRows {
                try Data((CSV.line(TrainingRow.columns) + lines.map { $0 + "\n" }.joined()).utf8).write(to: URL(filePath: root + "/annotations/train/\(shard).csv"))
            }
            if provenanceToo {
                for shard in Set(images.map(\.shard)) {
                    let lines = provenance.filter { $0.contains(#""id":"\#(shard)"#) }
                    try await fixture.git.run(["rm", "-r", "-q", "annotations/images/\(shard)"])
                    try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(filePath: root + "/annotations/images/\(shard).jsonl"))
                }
            }
            try await fixture.git.run(["add", "-A"])
            try await fixture.git.run(["commit", "-q", "-m", "Two-digit shards"])
            #expect(try await fixture.git.committedTrainRows().sorted() == rows.sorted())
        }

        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        try await reopened.committer.commitPending()
        #expect(try await reopened.subjects().prefix(2) == ["Move the dataset to the current layout", "Two-digit shards"])
        #expect(try await reopened.repository.headMessage().contains("0 images, 100 rows and \(provenanceToo ? 100 : 0) provenance lines moved."))
        #expect(try await reopened.repository.headMessage().contains("The rows move from annotations/train/<shard>.csv"))
        let rowFiles = try await reopened.git.files(at: "HEAD", under: [DatasetLayout.trainFolder])
        #expect(Set(rowFiles.map(\.path)) == Set(images.map { DatasetLayout.trainCSV(of: $0) }))
        #expect(Set(images.map { DatasetLayout.trainCSV(of: $0) }).count > Set(images.map(\.shard)).count, "a two-digit file split")
        for file in rowFiles {
            let lines = file.content.split(separator: "\n").dropFirst().map(String.init)
            let shard = String(file.path.split(separator: "/")[2])
            let prefix = String(file.path.split(separator: "/")[3].prefix(3))
            #expect(lines == twoDigitRows[shard]?.filter { $0.contains("/\(prefix)") }, "\(file.path): its rows, in their order")
        }
        let provenanceFiles = try await reopened.git.run(["ls-files", "annotations/images"]).split(separator: "\n").map(String.init)
        #expect(Set(provenanceFiles) == Set(images.map { DatasetLayout.provenance(of: $0) }))
        #expect(try await reopened.git.committedProvenance().sorted() == provenance.sorted())
        #expect(try await reopened.git.run(["diff", "--name-only", "HEAD~1", "HEAD", "--", "images"]).isEmpty)
        #expect(try await reopened.git.run(["status", "--porcelain"]).isEmpty)

        try await reopened.committer.commitPending()  // what the next start does
        try reopened.vote(.up, by: "r9", on: images[0])
        try await reopened.committer.commitAll()
        #expect(try await reopened.subjects().count == 5, "moved once, then a vote")
        #expect(try await reopened.git.run(["show", "--name-only", "--format=", "HEAD"]) == DatasetLayout.trainCSV(of: images[0]) + "\n")
    }
}
