import DroverCore
@testable import DroverDataset
import DroverGit
import DroverTestSupport
import Foundation
import Testing

/// A page of history read at once: each commit's rows and images as git has them, a merge
/// against its first parent, and a commit too big to list only counted.
@Suite struct DatasetHistoryTests {
    @Test func aPageOfCommitsIsReadAtOnceEachWithWhatItChanged() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 2)
        defer { fixture.directory.remove() }
        try await fixture.committer.commitAll()
        try fixture.vote(.up, by: "r1", on: images[0])
        try await fixture.committer.commitAll()
        let approved = try await fixture.git.committedTrainRows()
        try fixture.vote(.down, by: "r1", on: images[0])
        try await fixture.committer.commitAll()
        let disapproved = try await fixture.git.committedTrainRows()
        let changeSHA = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()

        // Another branch appends a row by hand; main meanwhile commits a vote; a plain merge.
        try await fixture.git.run(["checkout", "-q", "-b", "side"])
        let shard = DatasetLayout.trainCSV(of: images[1])
        let sideRow = "\"an ox\",\(images[1].datasetPath),Approve,someone,0-1,2026-01-01T00:00:00Z,web"
        let shardFile = URL(filePath: fixture.repository.directory + "/" + shard)
        let before = (try? String(contentsOf: shardFile, encoding: .utf8)) ?? CSV.line(TrainingRow.columns)
        try FileManager.default.createDirectory(at: shardFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((before + sideRow + "\n").utf8).write(to: shardFile)
        try await fixture.git.run(["add", "--", shard])
        try await fixture.git.run(["commit", "-q", "-m", "A row from elsewhere"])
        try await fixture.git.run(["checkout", "-q", "main"])
        try fixture.vote(.up, by: "r2", on: images[0])
        try await fixture.committer.commitAll()
        try await fixture.git.run(["merge", "-q", "--no-edit", "side"])

        let history = DatasetHistory(directory: fixture.repository.directory)
        let shas = try await history.commitHashes(skip: 0, limit: 10)
        let details = try await history.show(commits: shas)
        #expect(details.map(\.sha) == shas)
        #expect(details.map { $0.message.split(separator: "\n").first.map(String.init) } == (try await fixture.subjects()).map { $0 })
        #expect(details.count == 7, "the root, the images, three votes, the side's row and the merge")

        let (merge, image, root) = (details[0], details[details.count - 2], details[details.count - 1])
        let change = try #require(details.first { $0.sha == changeSHA })
        #expect(merge.parents.count == 2 && merge.addedRows == [sideRow] && merge.removedRows.isEmpty && merge.addedImages.isEmpty)
        #expect(change.removedRows == approved && change.addedRows == disapproved && change.parents.count == 1)
        #expect(image.addedImages == images.map(\.datasetPath).sorted() && image.addedRows.isEmpty)
        #expect(root.parents.isEmpty && root.message == "Create the Drover dataset" && root.addedImages.isEmpty && root.addedRows.isEmpty)

        // Listing one at most: the rating change's two lines only counted, one image of two listed.
        let short = try await history.show(commits: [change.sha, image.sha], listing: 1)
        #expect(short[0].addedRows.isEmpty && short[0].removedRows.isEmpty && short[0].rowsNotListed == 2)
        #expect(short[1].addedImages.count == 1 && short[1].imagesNotListed == 1)
        #expect(try await history.show(image.sha.prefix(10).description) == image, "one commit, by an abbreviated hash")

        // The history never reads `.git/index` (at a million images, 100 MB a diff would load to
        // look up attributes): a damaged one changes nothing, where `git diff` itself gives up.
        try Data("not an index".utf8).write(to: URL(filePath: fixture.repository.directory + "/.git/index"))
        await #expect(throws: (any Error).self) { try await fixture.git.run(["diff-tree", "-p", change.sha]) }
        #expect(try await history.show(commits: shas) == details)
    }
}
