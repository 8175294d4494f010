import DroverCore
import Testing

@Suite struct ImageIDTests {
    @Test func isTheFirst16HexDigitsOfSHA256() {
        // Reference: python3 -c "import hashlib; print(hashlib.sha256(b'\x89PNG test').hexdigest()[:16])"
        #expect(ImageID(pngBytes: Array("\u{89}PNG test".unicodeScalars.map { UInt8($0.value) })).rawValue == "05ac9320ed0bf8f2")
    }

    @Test(arguments: ["../../etc/pass", "05AC9320ED0BF8F2", "05ac9320ed0bf8f", "05ac9320ed0bf8f2a", "05ac9320ed0bf8g2", "", "05ac9320ed0b/8f2"])
    func refusesAnythingButSixteenLowercaseHexDigits(_ text: String) {
        #expect(ImageID(validating: text) == nil)
    }

    @Test func namesItsDatasetPathInItsShard() throws {
        let id = try #require(ImageID(validating: "05ac9320ed0bf8f2"))
        #expect(id.shard == "05")
        #expect(id.datasetPath == "images/05/05ac9320ed0bf8f2.png")
        #expect(ImageID(datasetPath: id.datasetPath) == id)
        #expect(ImageID(datasetPath: "images/05ac9320ed0bf8f2.png") == id, "the layout before shards")
    }

    @Test(arguments: ["images/06/05ac9320ed0bf8f2.png", "images/05/05/05ac9320ed0bf8f2.png", "images/05ac9320ed0bf8f2.jpg", "data/05/05ac9320ed0bf8f2.png", "images//05ac9320ed0bf8f2.png"])
    func refusesAPathThatIsNotADatasetImage(_ path: String) {
        #expect(ImageID(datasetPath: path) == nil)
    }
}

@Suite struct RaterPseudonymizerTests {
    @Test func keyedPseudonymIsHMACOfTeamAndUser() {
        // Reference: python3 -c "import hmac,hashlib; print(hmac.new(b'pepper', b'T0001:U0AB', hashlib.sha256).hexdigest()[:12])"
        let pseudonymizer = RaterPseudonymizer(salt: Array("pepper".utf8))
        #expect(pseudonymizer.pseudonym(team: "T0001", user: "U0AB") == "833b7b86378e")
    }

    @Test func differentSaltsGiveUnlinkablePseudonyms() {
        let first = RaterPseudonymizer(salt: Array("pepper".utf8)).pseudonym(team: "T0001", user: "U0AB")
        let second = RaterPseudonymizer(salt: Array("paprika".utf8)).pseudonym(team: "T0001", user: "U0AB")
        #expect(first != second)
    }

    @Test func seedCompatibilityModeIsUnsaltedSHA256Prefix() {
        // Reference: python3 -c "import hashlib; print(hashlib.sha256(b'U0AB').hexdigest()[:6])"
        let pseudonymizer = RaterPseudonymizer(salt: Array("ignored".utf8), scheme: .sha256Prefix6)
        #expect(pseudonymizer.pseudonym(team: "T0001", user: "U0AB") == "7d6c7d")
    }
}

@Suite struct CSVTests {
    @Test func quotesOnlyFieldsThatNeedIt() {
        #expect(CSV.line(["plain", "a,b", "say \"hi\"", "two\nlines"]) == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n")
    }

    @Test func countsRecordsNotLinesInsideQuotes() {
        #expect(CSV.recordCount(in: CSV.document(header: ["a"], rows: [["x\ny"], ["z"]])) == 3)
    }

    @Test func trainingRowStartsWithTheSeedColumns() throws {
        #expect(Array(TrainingRow.columns.prefix(5)) == ["prompt", "path", "rating", "rater", "model_version"])
        let row = TrainingRow(
            prompt: "an ox", image: try #require(ImageID(validating: "05ac9320ed0bf8f2")), rating: .disapprove,
            rater: "833b7b86378e", modelVersion: "0-1", votedAt: "2026-11-29T00:00:00.000Z", source: "web"
        )
        #expect(CSV.line(row.fields) == "an ox,images/05/05ac9320ed0bf8f2.png,Disapprove,833b7b86378e,0-1,2026-11-29T00:00:00.000Z,web\n")
    }
}

@Suite struct GenerationRequestTests {
    @Test func trimsThePromptAndKeepsValidSettings() throws {
        let request = try GenerationRequest(prompt: "  an ox \n", count: 4, seed: 7)
        #expect(request.prompt == "an ox")
        #expect(request.count == 4)
        #expect(request.width == nil && request.height == nil, "left to the model version")
        #expect(request.size == (512, 512))
    }

    @Test func refusesBadRequestsNamingTheField() throws {
        #expect(throws: GenerationRequestError.emptyPrompt) { try GenerationRequest(prompt: " \t ") }
        #expect(throws: GenerationRequestError.badCount(limit: 8)) { try GenerationRequest(prompt: "ox", count: 0) }
        #expect(throws: GenerationRequestError.badCount(limit: 8)) { try GenerationRequest(prompt: "ox", count: 9) }
        #expect(throws: GenerationRequestError.badSize) { try GenerationRequest(prompt: "ox", width: 100) }
        #expect(throws: GenerationRequestError.promptTooLong(limit: 2_000)) { try GenerationRequest(prompt: String(repeating: "o", count: 2_001)) }
        #expect(throws: GenerationRequestError.controlCharacters) { try GenerationRequest(prompt: "an\u{0}ox") }
        #expect(throws: GenerationRequestError.controlCharacters) { try GenerationRequest(prompt: "ox", negativePrompt: "\u{1B}[2J") }
        #expect(try GenerationRequest(prompt: "an ox\n\ton a hill\r\n").prompt == "an ox\n\ton a hill")
    }
}

@Suite struct VoteChoiceTests {
    @Test func mapsToRatings() {
        #expect(VoteChoice.up.rating == .approve)
        #expect(VoteChoice.down.rating == .disapprove)
        #expect(VoteChoice.none.rating == nil)
        #expect(Rating.approve.rawValue == "Approve" && Rating.disapprove.rawValue == "Disapprove")
    }
}
