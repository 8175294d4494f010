import DroverCore
import FoundationEssentials
import Testing

// Expected values below were computed independently of this code: by hand where the comment shows
// the arithmetic, otherwise with mpmath at 40 digits (Wilson/Newcombe from their formulas, the
// normal quantile from erfinv, P(p_B > p_A) by quadrature of f_B(x)·I_x(α_A, β_A) and checked
// against 4,000,000 numpy Monte Carlo draws) and a Python copy of SplitMix64 and the bootstrap.

@Suite struct NewcombeIntervalTests {
    @Test func matchesNewcombesOwnExample() throws {
        // Newcombe (1998), Table II, example (a): 56/70 vs 48/80, method 10 gives 0.0524 to 0.3339.
        // Here A = 48/80 (p_A = 0.6), B = 56/70 (p_B = 0.8), d = 0.2; Wilson (z = 1.959964):
        // A (0.490455, 0.700382), B (0.691834, 0.876953)
        // lower = 0.2 − √((0.8 − 0.691834)² + (0.700382 − 0.6)²) = 0.2 − √0.021777 = 0.2 − 0.147569 = 0.052431
        // upper = 0.2 + √((0.876953 − 0.8)² + (0.6 − 0.490455)²) = 0.2 + √0.017922 = 0.2 + 0.133873 = 0.333873
        let interval = try #require(NewcombeInterval(successesA: 48, trialsA: 80, successesB: 56, trialsB: 70))
        #expect(abs(interval.lower - 0.0524314724) < 1e-9)
        #expect(abs(interval.upper - 0.333872654) < 1e-9)
        #expect(!interval.contains(0))
    }

    @Test func edgeRatesAndNegativeDifferences() throws {
        // All approve on both sides, 10/10 vs 10/10: d = 0 and both Wilson intervals are
        // (0.722467, 1), so the interval is ±√(0.277533² + 0) = ±0.277533.
        let same = try #require(NewcombeInterval(successesA: 10, trialsA: 10, successesB: 10, trialsB: 10))
        #expect(abs(same.lower + 0.2775327999) < 1e-9 && abs(same.upper - 0.2775327999) < 1e-9)
        // 0/10 vs 10/10: d = 1, lower = 1 − √(0.277533² + 0.277533²) = 1 − 0.392491 = 0.607509, upper = 1.
        let extreme = try #require(NewcombeInterval(successesA: 0, trialsA: 10, successesB: 10, trialsB: 10))
        #expect(abs(extreme.lower - 0.6075093504) < 1e-9 && abs(extreme.upper - 1) < 1e-12)
        // 30/30 vs 25/40 (B worse): d = −0.375, interval (−0.5296756086, −0.2003196673).
        let worse = try #require(NewcombeInterval(successesA: 30, trialsA: 30, successesB: 25, trialsB: 40))
        #expect(abs(worse.lower + 0.5296756086) < 1e-9 && abs(worse.upper + 0.2003196673) < 1e-9)
        // 3/10 vs 7/10: d = 0.4, interval (−0.02882045627, 0.6718241964) still includes 0.
        let small = try #require(NewcombeInterval(successesA: 3, trialsA: 10, successesB: 7, trialsB: 10))
        #expect(abs(small.lower + 0.02882045627) < 1e-9 && abs(small.upper - 0.6718241964) < 1e-9 && small.contains(0))
    }

    @Test func isUndefinedWithoutVotesOnEitherSide() {
        #expect(NewcombeInterval(successesA: 0, trialsA: 0, successesB: 3, trialsB: 5) == nil)
        #expect(NewcombeInterval(successesA: 3, trialsA: 5, successesB: 0, trialsB: 0) == nil)
    }
}

@Suite struct BetaComparisonTests {
    /// (approvalsA, disapprovalsA, approvalsB, disapprovalsB, P(p_B > p_A)).
    static let cases: [(Int, Int, Int, Int, Double)] = [
        (10, 0, 5, 0, 6.0 / 17),  // Beta(11, 1) vs Beta(6, 1): P(X_6 > X_11) = 6 / (6 + 11) by hand
        (0, 0, 1, 0, 2.0 / 3),  // Beta(1, 1) vs Beta(2, 1): ∫₀¹ 2x · x dx = 2/3 by hand
        (1, 1, 1, 1, 0.5),  // identical posteriors: ½ by symmetry
        (3, 7, 7, 3, 0.956945531248937),  // Monte Carlo 0.95698
        (48, 32, 56, 14, 0.995929538976857),  // Monte Carlo 0.99591
        (30, 0, 25, 15, 2.50412557259382e-5),  // Monte Carlo 2.3e-5
        (5, 20, 2, 30, 0.0653136338377639),  // Monte Carlo 0.06545
        (700, 300, 650, 350, 0.00851057262503401),  // Monte Carlo 0.00847
        (4000, 6000, 4100, 5900, 0.925120425251096),  // Monte Carlo 0.92501
    ]

    @Test(arguments: cases) func exactSumMatchesQuadrature(_ c: (Int, Int, Int, Int, Double)) {
        // The cases between them sum over each of α_A, β_A, α_B and β_B (whichever is smallest).
        let result = BetaComparison.probabilityBExceedsA(approvalsA: c.0, disapprovalsA: c.1, approvalsB: c.2, disapprovalsB: c.3)
        #expect(result.method == .exactSum)
        #expect(abs(result.probability - c.4) <= 1e-10 * c.4 + 1e-14)
    }

    @Test(arguments: cases) func integrationAgreesToTheThirdDecimalAndBetter(_ c: (Int, Int, Int, Int, Double)) {
        let result = BetaComparison.probabilityBExceedsA(
            approvalsA: c.0, disapprovalsA: c.1, approvalsB: c.2, disapprovalsB: c.3, maximumTerms: 0
        )
        #expect(result.method == .numericIntegration)
        #expect(abs(result.probability - c.4) < 1e-5)
    }

    @Test func swappingTheVersionsGivesTheComplement() {
        let forward = BetaComparison.probabilityBExceedsA(approvalsA: 48, disapprovalsA: 32, approvalsB: 56, disapprovalsB: 14)
        let backward = BetaComparison.probabilityBExceedsA(approvalsA: 56, disapprovalsA: 14, approvalsB: 48, disapprovalsB: 32)
        #expect(abs(forward.probability + backward.probability - 1) < 1e-12)
    }
}

@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceSequence() {
        // The reference C code (Vigna) seeded with 1234567 starts 6457827717110365317, 3203168211198807973.
        var generator = SplitMix64(seed: 1_234_567)
        #expect(generator.next() == 6_457_827_717_110_365_317)
        #expect(generator.next() == 3_203_168_211_198_807_973)
        #expect(generator.next() == 9_817_491_932_198_370_423)
    }

    @Test func boundedDrawsStayInRange() {
        var generator = SplitMix64(seed: 9)
        #expect((0..<1000).allSatisfy { _ in (0..<7).contains(generator.next(below: 7)) })
    }
}

@Suite struct HeadToHeadTests {
    static let outcomes = Array(repeating: PairOutcome.aWon, count: 12) + Array(repeating: .bWon, count: 20)
        + Array(repeating: .tie, count: 8)

    @Test func countsSharesAndStrengths() throws {
        let result = HeadToHead(a: "v1", b: "v2", outcomes: Self.outcomes)
        #expect(result.pairs == 40 && result.aWins == 12 && result.bWins == 20 && result.ties == 8)
        // Shares: 12/40 = 0.3, 20/40 = 0.5, 8/40 = 0.2.
        #expect(result.aShare == 0.3 && result.bShare == 0.5 && result.tieShare == 0.2)
        // Ties as half wins: w_A = 12 + 4 = 16, w_B = 20 + 4 = 24; π_A = 0.4, π_B = 0.6;
        // θ_B = ½ ln(24/16) = ½ · 0.4054651081 = 0.2027325541, θ_A = −θ_B.
        let strengths = try #require(result.bradleyTerry)
        #expect(strengths.map(\.modelVersion) == ["v1", "v2"])
        #expect(abs(strengths[0].strength - 0.4) < 1e-12 && abs(strengths[1].strength - 0.6) < 1e-12)
        let theta = try #require(strengths[1].logStrength)
        #expect(abs(theta - 0.2027325541) < 1e-9 && strengths[0].logStrength == -theta)
    }

    @Test func bootstrapIsReproducibleForAFixedSeed() throws {
        // Python copy of the same SplitMix64 draws, 2,000 replicates, numpy's type-7 quantiles:
        // seed 18 → π_B interval (0.4625, 0.725); seed 7 → (0.4625, 0.7375).
        let first = try #require(HeadToHead(a: "v1", b: "v2", outcomes: Self.outcomes, seed: 18).bradleyTerry)
        let again = try #require(HeadToHead(a: "v1", b: "v2", outcomes: Self.outcomes, seed: 18).bradleyTerry)
        #expect(first == again)
        #expect(abs(first[1].interval.lower - 0.4625) < 1e-12 && abs(first[1].interval.upper - 0.725) < 1e-12)
        // A's interval mirrors B's: (1 − 0.725, 1 − 0.4625).
        #expect(abs(first[0].interval.lower - 0.275) < 1e-12 && abs(first[0].interval.upper - 0.5375) < 1e-12)
        #expect(first[1].interval.replicates == 2000 && first[1].interval.seed == 18)
        let other = try #require(HeadToHead(a: "v1", b: "v2", outcomes: Self.outcomes, seed: 7).bradleyTerry)
        #expect(abs(other[1].interval.lower - 0.4625) < 1e-12 && abs(other[1].interval.upper - 0.7375) < 1e-12)
    }

    @Test func oneSidedWinsLeaveTheLogStrengthUnbounded() throws {
        // 3 A wins, 1 B win, 200 replicates, seed 18: Python gives π_B interval (0, 0.75).
        let outcomes: [PairOutcome] = [.aWon, .aWon, .aWon, .bWon]
        let strengths = try #require(HeadToHead(a: "v1", b: "v2", outcomes: outcomes, replicates: 200).bradleyTerry)
        #expect(abs(strengths[1].interval.lower) < 1e-12 && abs(strengths[1].interval.upper - 0.75) < 1e-12)
        // Only A won: π_A = 1, θ undefined.
        let sweep = try #require(HeadToHead(a: "v1", b: "v2", outcomes: [.aWon, .aWon]).bradleyTerry)
        #expect(sweep[0].strength == 1 && sweep[0].logStrength == nil && sweep[1].logStrength == nil)
        #expect(sweep[0].interval.lower == 1 && sweep[1].interval.upper == 0)
    }

    @Test func zeroPairsAndAllTies() throws {
        let none = HeadToHead(a: "v1", b: "v2", outcomes: [])
        #expect(none.pairs == 0 && none.aShare == nil && none.bShare == nil && none.tieShare == nil && none.bradleyTerry == nil)
        // All ties: w_A = w_B = 5/2, π = ½ each, θ = 0, and every replicate is ½.
        let ties = HeadToHead(a: "v1", b: "v2", outcomes: Array(repeating: .tie, count: 5))
        let strengths = try #require(ties.bradleyTerry)
        #expect(ties.tieShare == 1 && strengths[1].strength == 0.5 && strengths[1].logStrength == 0)
        #expect(strengths[1].interval.lower == 0.5 && strengths[1].interval.upper == 0.5)
    }

    @Test func outcomesComeOnePerRequestAndRater() {
        let votes = [
            // r1 on q1: A approve, B disapprove → A won.
            PairedVote(request: "q1", rater: "r1", modelVersion: "v1", rating: .approve),
            PairedVote(request: "q1", rater: "r1", modelVersion: "v2", rating: .disapprove),
            // r2 on q1: A 1/2, B 1/1 → B won (one outcome, though three images).
            PairedVote(request: "q1", rater: "r2", modelVersion: "v1", rating: .approve),
            PairedVote(request: "q1", rater: "r2", modelVersion: "v1", rating: .disapprove),
            PairedVote(request: "q1", rater: "r2", modelVersion: "v2", rating: .approve),
            // r1 on q2: both disapprove → tie; r3 on q2 rated only B → no pair; v3 is neither.
            PairedVote(request: "q2", rater: "r1", modelVersion: "v1", rating: .disapprove),
            PairedVote(request: "q2", rater: "r1", modelVersion: "v2", rating: .disapprove),
            PairedVote(request: "q2", rater: "r3", modelVersion: "v2", rating: .approve),
            PairedVote(request: "q2", rater: "r3", modelVersion: "v3", rating: .disapprove),
        ]
        let outcomes = HeadToHead.outcomes(a: "v1", b: "v2", votes: votes)
        #expect(outcomes.sorted { $0.rawValue < $1.rawValue } == [.aWon, .bWon, .tie])
        #expect(PairOutcome(a: .approve, b: .approve) == .tie && PairOutcome(a: .disapprove, b: .approve) == .bWon)
    }
}

@Suite struct SampleSizeTests {
    @Test func normalQuantilesMatchErfinv() throws {
        // √2 · erfinv(2p − 1) of the double nearest each p (near 1 the double differs from the
        // decimal enough to move z in the eleventh digit).
        let expected: [(Double, Double)] = [
            (0.975, 1.9599639845400542), (0.8, 0.84162123357291421), (0.995, 2.5758293035489008), (0.5, 0),
            (0.3, -0.52440051270804078), (1e-10, -6.3613409024040562), (0.02425, -1.9729610513118849),
            (0.999999, 4.7534243088170878),
        ]
        for (p, z) in expected {
            let quantile = try #require(StandardNormal.quantile(p))
            #expect(abs(quantile - z) < 1e-13, "p = \(p)")
        }
        #expect(StandardNormal.quantile(0) == nil && StandardNormal.quantile(1) == nil)
    }

    @Test func votesPerVersionMatchTheFormula() {
        // Base 0.5, Δ = 0.1: p₁ = 0.45, p₂ = 0.55, p̄ = 0.5.
        // z_.975 √(2 · 0.25) = 1.959964 · 0.707107 = 1.385904
        // z_.80 √(0.2475 + 0.2475) = 0.841621 · 0.703562 = 0.592133
        // n = (1.978037)² / 0.01 = 391.263 → 392 per version.
        #expect(SampleSize.votesPerVersion(difference: 0.1, baseRate: 0.5) == 392)
        // Base 104/150 = 0.693333: n = 332.588 → 333.
        #expect(SampleSize.votesPerVersion(difference: 0.1, baseRate: 104.0 / 150) == 333)
        // Base 0.98 shifts to p₁ = 0.9, p₂ = 1: n = 73.374 → 74; base 0 mirrors it (0, 0.1).
        #expect(SampleSize.votesPerVersion(difference: 0.1, baseRate: 0.98) == 74)
        #expect(SampleSize.votesPerVersion(difference: 0.1, baseRate: 0) == 74)
        // Δ = 0.05 at 0.5: 1568.596 → 1569; Δ = 0.2, power 0.9, α = 0.01: 183.504 → 184.
        #expect(SampleSize.votesPerVersion(difference: 0.05, baseRate: 0.5) == 1569)
        #expect(SampleSize.votesPerVersion(difference: 0.2, baseRate: 0.5, power: 0.9, alpha: 0.01) == 184)
        #expect(SampleSize.votesPerVersion(difference: 0, baseRate: 0.5) == nil)
        #expect(SampleSize.votesPerVersion(difference: 0.1, baseRate: 0.5, power: 1) == nil)
    }
}

@Suite struct VersionComparisonTests {
    static func tally(_ version: String, votes: Int, approvals: Int, images: Int? = nil) -> VersionTally {
        VersionTally(modelVersion: version, images: images ?? votes, votes: votes, approvals: approvals)
    }

    @Test func clearDifferenceWithEnoughVotes() throws {
        let result = VersionComparison(a: Self.tally("v1", votes: 80, approvals: 48), b: Self.tally("v2", votes: 70, approvals: 56))
        #expect(result.a.approvalRate == 0.6 && result.b.approvalRate == 0.8)
        #expect(result.a.approvalInterval == WilsonInterval(successes: 48, trials: 80))
        #expect(result.difference.interval == NewcombeInterval(successesA: 48, trialsA: 80, successesB: 56, trialsB: 70))
        #expect(abs(try #require(result.difference.estimate) - 0.2) < 1e-12)
        #expect(abs(try #require(result.probabilityBBetter.probability) - 0.995929538976857) < 1e-10)
        #expect(result.verdict == .bBetter && result.design == .fixedHorizon)
        // Base rate 104/150 → 333 votes per version; A has 80, B 70.
        #expect(result.planning.votesPerVersion == 333 && result.planning.remainingA == 253 && result.planning.remainingB == 263)
        #expect(result.planning.baseRateVotes == 150)
        #expect(result.summary.contains("v2 is approved more often than v1") && result.summary.contains("+20.0 points"))
        #expect(result.summary.contains("(95 % interval +5.2 to +33.4 points)"))
        #expect(result.warnings.first == VersionComparison.peekingWarning)
    }

    @Test func overlappingIntervalMeansNoClearDifference() throws {
        // 30/60 vs 36/60 has enough votes, d = 0.1, and its Newcombe interval (−0.0761, 0.2677)
        // includes 0. 3/10 vs 7/10 (interval (−0.0288, 0.6718)) is also too few votes.
        let result = VersionComparison(a: Self.tally("v1", votes: 60, approvals: 30), b: Self.tally("v2", votes: 60, approvals: 36))
        let interval = try #require(result.difference.interval)
        #expect(abs(interval.lower + 0.07608129791) < 1e-9 && abs(interval.upper - 0.2676562486) < 1e-9)
        #expect(result.verdict == .noClearDifference)
        #expect(result.summary.hasPrefix("No clear difference yet"))
        let few = VersionComparison(a: Self.tally("v1", votes: 10, approvals: 3), b: Self.tally("v2", votes: 10, approvals: 7))
        #expect(few.verdict == .tooFewVotes && few.summary.hasPrefix("Too few votes to conclude"))
        #expect(few.warnings.contains { $0.contains("v1 has only 10 votes") })
    }

    @Test func worseChallengerIsReportedAsABetter() {
        let result = VersionComparison(a: Self.tally("v1", votes: 30, approvals: 30), b: Self.tally("v2", votes: 40, approvals: 25))
        #expect(result.verdict == .aBetter)
        #expect(result.warnings.contains { $0.hasPrefix("All 30 votes for v1 approve") })
        // 30/0 vs 25/15, from BetaComparisonTests.cases.
        #expect(abs((result.probabilityBBetter.probability ?? 1) - 2.50412557259382e-5) < 1e-15)
    }

    @Test func noVotesAtAll() throws {
        let result = VersionComparison(a: Self.tally("v1", votes: 0, approvals: 0, images: 3), b: Self.tally("v2", votes: 0, approvals: 0))
        #expect(result.verdict == .noVotes)
        #expect(result.a.images == 3 && result.a.approvalRate == nil && result.a.approvalInterval == nil)
        #expect(result.difference.estimate == nil && result.difference.interval == nil)
        #expect(result.probabilityBBetter.probability == nil && result.probabilityBBetter.method == nil)
        // Without votes the plan assumes the most demanding base rate, 0.5: 392 per version.
        #expect(result.planning.baseRate == 0.5 && result.planning.baseRateVotes == 0 && result.planning.votesPerVersion == 392)
        #expect(result.planning.remainingA == 392 && result.planning.remainingB == 392)
        #expect(result.warnings.contains("v1 has no votes yet.") && result.warnings.contains("v2 has no votes yet."))
        let json = try #require(String(data: try JSONEncoder().encode(result), encoding: .utf8))
        #expect(json.contains(#""approval_rate":null"#) && json.contains(#""b_minus_a":null"#))
        #expect(json.contains(#""probability":null"#) && json.contains(#""bradley_terry":null"#))
        #expect(!json.contains("NaN") && !json.contains("nan"))
        let decoded = try JSONDecoder().decode(VersionComparison.self, from: Data(json.utf8))
        #expect(decoded == result)
    }

    @Test func oneVersionOnly() {
        let result = VersionComparison(a: Self.tally("v1", votes: 40, approvals: 25), b: Self.tally("v2", votes: 0, approvals: 0))
        #expect(result.verdict == .oneVersionOnly)
        #expect(result.summary.hasPrefix("Only v1 has votes (40); v2 has none yet"))
        #expect(result.a.approvalRate == 0.625 && result.b.approvalRate == nil)
        #expect(result.difference.interval == nil && result.probabilityBBetter.probability == nil)
        // Base rate 25/40 = 0.625 → p₁ = 0.575, p₂ = 0.675; remaining for A = needed − 40.
        let needed = SampleSize.votesPerVersion(difference: 0.1, baseRate: 0.625)
        #expect(result.planning.votesPerVersion == needed && result.planning.remainingA == needed.map { $0 - 40 })
    }

    @Test func allApproveOnBothSides() throws {
        let result = VersionComparison(a: Self.tally("v1", votes: 40, approvals: 40), b: Self.tally("v2", votes: 40, approvals: 40))
        // Identical Beta(41, 1) posteriors: P = ½; d = 0, the interval straddles 0.
        #expect(abs(try #require(result.probabilityBBetter.probability) - 0.5) < 1e-12)
        #expect(result.verdict == .noClearDifference && result.difference.estimate == 0)
        #expect(result.warnings.filter { $0.hasPrefix("All 40 votes") }.count == 2)
        // Base rate 1 shifts to (0.9, 1): 74 needed, 34 more each.
        #expect(result.planning.votesPerVersion == 74 && result.planning.remainingA == 34)
        #expect(result.planning.remainingB == 34)
    }

    @Test func remainingVotesAreNeverNegative() {
        let result = VersionComparison(a: Self.tally("v1", votes: 1000, approvals: 500), b: Self.tally("v2", votes: 1000, approvals: 520))
        #expect(result.planning.votesPerVersion == 392 && result.planning.remainingA == 0 && result.planning.remainingB == 0)
    }

    @Test func headToHeadWarnings() {
        let none = VersionComparison(a: Self.tally("v1", votes: 40, approvals: 20), b: Self.tally("v2", votes: 40, approvals: 20))
        #expect(none.warnings.contains { $0.hasPrefix("No rater has rated both versions") })
        let ties = VersionComparison(
            a: Self.tally("v1", votes: 40, approvals: 20), b: Self.tally("v2", votes: 40, approvals: 20),
            outcomes: Array(repeating: .tie, count: 4), blindedOnly: false
        )
        #expect(ties.warnings.contains { $0.hasPrefix("The head-to-head rests on only 4 pairs") })
        #expect(ties.warnings.contains { $0.hasPrefix("Every head-to-head pair is a tie") })
        #expect(ties.warnings.contains { $0.hasPrefix("Images not assigned at random") } && !ties.blindedOnly)
    }

    @Test func countsFromStatisticsVotes() throws {
        let images = try (0..<4).map { try #require(ImageID(validating: String(repeating: "\($0)", count: 16))) }
        let votes = [
            StatisticsVote(image: images[0], rater: "r1", rating: .approve, modelVersion: "v1"),
            StatisticsVote(image: images[0], rater: "r2", rating: .disapprove, modelVersion: "v1"),
            StatisticsVote(image: images[2], rater: "r1", rating: .approve, modelVersion: "v2"),
            StatisticsVote(image: images[3], rater: "r1", rating: .approve, modelVersion: "v3"),
        ]
        let result = VersionComparison(
            a: "v1", b: "v2", images: [images[0]: "v1", images[1]: "v1", images[2]: "v2", images[3]: "v3"], votes: votes
        )
        #expect(result.a.images == 2 && result.a.votes == 2 && result.a.approvals == 1)
        #expect(result.b.images == 1 && result.b.votes == 1 && result.b.approvals == 1)
    }
}
