import DroverCore
import Testing

/// Blinded assignment: each image's version drawn by weight from a keyed hash of the request.
@Suite struct BlindAssignmentTests {
    let secret = Array("a data directory's secret".utf8)
    let versions: [(name: String, weight: Double)] = [("a", 1), ("history", 0), ("b", 3)]

    @Test func theSameKeyDrawsTheSameVersionsAndAnotherSecretOthers() {
        let first = BlindAssignment(count: 8, versions: versions, requestKey: "slack:T/123", secret: secret)
        #expect(first == BlindAssignment(count: 8, versions: versions, requestKey: "slack:T/123", secret: secret))
        let otherSecret = BlindAssignment(count: 8, versions: versions, requestKey: "slack:T/123", secret: Array("another".utf8))
        #expect(first.slots.map(\.draw) != otherSecret.slots.map(\.draw))
        #expect(first.slots.allSatisfy { ($0.draw ?? -1) >= 0 && ($0.draw ?? 1) < 1 })
    }

    @Test func versionsAreDrawnInProportionToTheirWeightsAndNeverAtWeightZero() {
        var counts: [String: Int] = [:]
        var mixedRequests = 0
        for request in 0..<1_000 {
            let slots = BlindAssignment(count: 4, versions: versions, requestKey: "web:\(request)", secret: secret).slots
            for slot in slots { counts[slot.modelVersion, default: 0] += 1 }
            if Set(slots.map(\.modelVersion)).count > 1 { mixedRequests += 1 }
        }
        #expect(counts["history"] == nil)
        // 4,000 draws at ¾: the standard deviation of b's count is about 27; ±5 of them.
        #expect((2_865...3_135).contains(counts["b", default: 0]), "\(counts)")
        // A request of four mixes versions unless all four draw alike: 1 − ¾⁴ − ¼⁴ ≈ 68 %.
        #expect((600...760).contains(mixedRequests), "\(mixedRequests) of 1000 requests mixed")
    }

    @Test func eachDrawPicksTheVersionWhoseShareOfTheLineItFallsIn() {
        // With weights 1 and 3, a draw below ¼ is a's and one at or above it b's.
        for request in 0..<200 {
            for slot in BlindAssignment(count: 2, versions: versions, requestKey: "k\(request)", secret: secret).slots {
                #expect(slot.modelVersion == (slot.draw! < 0.25 ? "a" : "b"))
            }
        }
    }

    @Test func aRequestLeavesWhatItDoesNotSetToTheVersionsDefaults() throws {
        let defaults = try GenerationDefaults(steps: 30, guidanceScale: 7.5, width: 768, height: 512, negativePrompt: "blurry")
        let request = try GenerationRequest(prompt: "an ox", negativePrompt: "dark", steps: 10, width: 640)
        let resolved = request.resolved(with: defaults)
        #expect(resolved.steps == 10 && resolved.guidanceScale == 7.5 && resolved.negativePrompt == "dark")
        #expect(resolved.size == (640, 512))
        #expect(try GenerationRequest(prompt: "an ox").size == (512, 512), "no size anywhere: 512 square")
        #expect(throws: GenerationRequestError.badSteps) { try GenerationDefaults(steps: 0) }
        #expect(throws: GenerationRequestError.badModelVersion) { try GenerationRequest(prompt: "an ox", modelVersion: "a,b") }
    }
}
