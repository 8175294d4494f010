import DroverCore
@testable import DroverDataset
import DroverGit
import DroverStore
import DroverTestSupport
import Foundation
import Testing

@Suite struct ImportTests {
    /// A CSV from another source beside its images, one row voting on an image the dataset has.
    @Test func importsRowsWithTheirImagesInOneCommit() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        try await fixture.committer.reconcile()
        let existing = try #require(try fixture.addImages(prompt: "an ox", count: 1).first)
        try await fixture.committer.commitAll()
        let source = fixture.directory.path + "/other"
        try FileManager.default.createDirectory(atPath: source + "/pics", withIntermediateDirectories: true)
        let pngs = try await tinyPNGs(count: 2, in: source + "/pics")
        try Data("""
            prompt,path,rating,rater,model_version
            "a cow, grazing",pics/0.png,Approve,abc123,1-0
            "a cow, grazing",pics/1.png,Disapprove,abc123,1-0
            "a cow, grazing",pics/0.png,Approve,def456,1-0
            an ox,\(datasetPath(existing)),Disapprove,def456,0-1

            """.utf8).write(to: URL(filePath: source + "/votes.csv"))

        let importer = DatasetImporter(isKnown: { try fixture.ledger.containsImage($0) })
        let votes = try importer.votes(fromCSV: source + "/votes.csv")
        let result = try fixture.ledger.importVotes(votes, scope: "votes.csv")
        #expect(result.images == pngs.map { ImageID(pngBytes: $0) })
        #expect(result.voteEvents.count == 4 && result.voteEvents.allSatisfy { $0.source == .import })
        #expect(try await fixture.committer.commitAll().count == 1)

        #expect(try await fixture.subjects().first == "Import 2 images and 4 votes from votes.csv")
        #expect(try await fixture.git.run(["show", "HEAD:\(datasetPath(result.images[0]))"]).utf8.count > 0)
        let committed = try await fixture.committedRows()
        #expect(committed.count == 4)
        #expect(Set(committed) == (try fixture.ledgerRows()))
        let provenance = try await fixture.git.committedProvenance()
        let imported = provenance.filter { $0.contains(result.images[0].rawValue) }
        #expect(provenance.count == 3 && imported.count == 1 && imported.first?.contains(#""backend":"external""#) == true)
        #expect(imported.first?.contains(#""width":8"#) == true)

        // The same file again changes nothing.
        let again = try fixture.ledger.importVotes(try importer.votes(fromCSV: source + "/votes.csv"), scope: "votes.csv")
        #expect(again.images.isEmpty && again.voteEvents.isEmpty)
    }

    @Test func aRowWhoseImageIsNowhereRefusesTheWholeFile() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        try await fixture.committer.reconcile()
        _ = try await tinyPNGs(count: 1, in: fixture.directory.path)
        try Data("""
            prompt,path,rating,rater,model_version
            a cow,0.png,Approve,abc123,1-0
            a cow,missing.png,Approve,abc123,1-0
            a cow,images/00000000000000aa.png,Approve,abc123,1-0
            a cow,../escape.png,Approve,abc123,1-0

            """.utf8).write(to: URL(filePath: fixture.directory.path + "/votes.csv"))
        let importer = DatasetImporter(isKnown: { try fixture.ledger.containsImage($0) })
        let error = try #require(throws: ImportError.self) { try importer.votes(fromCSV: fixture.directory.path + "/votes.csv") }
        #expect(error.description.contains("3 rows"))
        #expect(error.description.contains("line 3: image missing.png is missing"))
        #expect(error.description.contains("line 4: image images/00000000000000aa.png is missing"))
        #expect(error.description.contains("line 5: path \"../escape.png\" must stay inside"))
        #expect(try fixture.ledger.recentImages(limit: 10).isEmpty)
    }
}

/// Writes `count` different 8×8 PNGs, `0.png` …, into `directory` with Pillow, and returns their bytes.
func tinyPNGs(count: Int, in directory: String) async throws -> [Data] {
    _ = try await runPython("""
        import sys
        from PIL import Image
        for i in range(int(sys.argv[2])):
            Image.new("RGB", (8, 8), (40 * i, 200, 90)).save(f"{sys.argv[1]}/{i}.png")
        """, [directory, "\(count)"])
    return try (0..<count).map { try Data(contentsOf: URL(filePath: "\(directory)/\($0).png")) }
}
