import DroverCore
import Testing

@Suite struct CSVReadingTests {
    @Test func readsWhatTheWriterWrites() throws {
        let rows = [["an ox, \"big\"", "x"], ["two\nlines", ""], ["plain", "é"]]
        let document = CSV.document(header: ["a", "b"], rows: rows)
        #expect(try CSV.records(in: document) == [["a", "b"]] + rows)
        #expect(try CSV.records(in: "a,b\r\n1,2") == [["a", "b"], ["1", "2"]])
    }

    @Test func refusesAnOpenQuote() {
        #expect(throws: CSV.ParseError.self) { try CSV.records(in: "a,b\n\"open,2\n") }
    }

    @Test func seedRowsNeedTheSeedColumnsAndARating() throws {
        let rows = try SeedRow.rows(in: "path,prompt,rating,rater,model_version\nimages/aaaaaaaaaaaaaaaa.png,an ox,Approve,r1,0-1\n")
        #expect(rows.first?.prompt == "an ox" && rows.first?.imageID?.rawValue == "aaaaaaaaaaaaaaaa" && rows.first?.votedAt == nil)
        #expect(throws: CSV.ParseError.self) { try SeedRow.rows(in: "prompt,path,rating,rater\nox,p.png,Approve,r1\n") }
        #expect(throws: CSV.ParseError.self) { try SeedRow.rows(in: "prompt,path,rating,rater,model_version\nox,p.png,Maybe,r1,0-1\n") }
    }
}

@Suite struct TrainingExportsTests {
    /// Prompt "ox": image a 2 up (net +2), b 1 up 1 down (net 0), c 1 down (net −1);
    /// prompt "cow": image d 1 up.
    let rows: [SeedRow] = [
        ("ox", "a", Rating.approve, "r1"), ("ox", "a", .approve, "r2"), ("ox", "b", .approve, "r1"), ("ox", "b", .disapprove, "r2"),
        ("ox", "c", .disapprove, "r1"), ("cow", "d", .approve, "r1"),
    ].enumerated().map { index, row in
        SeedRow(
            prompt: row.0, path: ImageID(validating: String(repeating: row.1, count: 16))!.datasetPath, rating: row.2, rater: row.3,
            modelVersion: "0-1", votedAt: nil, source: "web", line: index + 2
        )
    }

    func path(_ letter: String) -> String { ImageID(validating: String(repeating: letter, count: 16))!.datasetPath }

    @Test func ktoHasOneRecordPerVoteLabelledByRating() {
        let records = TrainingExports.kto(rows)
        #expect(records.count == rows.count)
        #expect(records[3] == KTORecord(prompt: "ox", completion: path("b"), label: false))
        #expect(records.filter(\.label).count == 4)
    }

    @Test func diffusionKTOSplitsImagesByWhetherRatersAgreed() {
        #expect(TrainingExports.diffusionKTO(rows) == [
            DiffusionKTORow(filePath: path("a"), caption: "ox", split: .exclusiveWin),
            DiffusionKTORow(filePath: path("b"), caption: "ox", split: .intersections),
            DiffusionKTORow(filePath: path("c"), caption: "ox", split: .exclusiveLose),
            DiffusionKTORow(filePath: path("d"), caption: "cow", split: .exclusiveWin),
        ])
    }

    @Test func pairsCompareNetRatingsWithinAPrompt() {
        let pairs = TrainingExports.pairs(rows)
        // "cow" has one image: no pair. "ox": (a, b), (a, c), (b, c), the higher net winning.
        #expect(pairs.map { [$0.jpg0, $0.jpg1] } == [[path("a"), path("b")], [path("a"), path("c")], [path("b"), path("c")]])
        #expect(pairs.map(\.label0) == [1, 1, 1])
        #expect(pairs.allSatisfy { $0.label0 + $0.label1 == 1 && $0.caption == "ox" && $0.model0 == "0-1" })
        #expect(pairs[0].fields == ["ox", path("a"), path("b"), "1.0", "0.0", "0-1", "0-1"])
    }

    @Test func equalNetRatingsAreATie() {
        let tie = rows.filter { $0.path != path("a") && $0.path != path("c") } + [
            SeedRow(prompt: "ox", path: path("e"), rating: .approve, rater: "r3", modelVersion: "0-2", votedAt: nil, source: nil, line: 9),
            SeedRow(prompt: "ox", path: path("e"), rating: .disapprove, rater: "r4", modelVersion: "0-2", votedAt: nil, source: nil, line: 10),
        ]
        let pairs = TrainingExports.pairs(tie)
        #expect(pairs.count == 1)
        #expect(pairs.first?.label0 == 0.5 && pairs.first?.label1 == 0.5 && pairs.first?.model1 == "0-2")
    }

    @Test func imageFolderNamesTheFileAndCarriesProvenance() throws {
        let id = try #require(ImageID(validating: String(repeating: "a", count: 16)))
        let provenance = ImageProvenance(
            id: id, prompt: "ox", negativePrompt: nil, seed: 7, steps: nil, guidanceScale: nil, width: 64, height: 64, model: "m",
            modelVersion: "0-1", backend: "procedural", generationID: "g", createdAt: "2026-11-29T00:00:00.000Z", postedTo: "web"
        )
        let records = TrainingExports.imageFolder(rows, provenance: [id: provenance])
        #expect(records.count == rows.count)
        #expect(records[0].fileName == path("a") && records[0].provenance?.seed == 7)
        #expect(records[5].provenance == nil)
    }
}
