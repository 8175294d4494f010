import DroverCore
import Testing

@Suite struct WilsonIntervalTests {
    @Test func eightOfTenMatchesTheHandComputation() throws {
        // p = 0.8, n = 10, z = 1.96, z² = 3.8416
        // denominator = 1 + z²/n = 1.38416
        // centre = (p + z²/2n) / denominator = (0.8 + 0.19208) / 1.38416 = 0.716738
        // half = z / denominator · √(p(1−p)/n + z²/4n²) = 1.96 / 1.38416 · √(0.016 + 0.009604)
        //      = 1.416022 · 0.160012 = 0.226580
        // interval = (0.490158, 0.943318); to more digits (0.4901568, 0.9433191)
        let interval = try #require(WilsonInterval(successes: 8, trials: 10, z: 1.96))
        #expect(abs(interval.lower - 0.490157) < 1e-5)
        #expect(abs(interval.upper - 0.943319) < 1e-5)
    }

    @Test func allOrNothingStaysInsideZeroAndOne() throws {
        // 0 of 5 (z = 1.959964, z² = 3.841459): centre = (z²/10) / (1 + z²/5) = 0.384146 / 1.768292
        // = 0.217241, and half = z / 1.768292 · √(z²/100) = 1.108393 · 0.195996 = 0.217241 too,
        // so lower = 0 and upper = 0.434482; 5 of 5 mirrors it: (1 − 0.434482, 1).
        let none = try #require(WilsonInterval(successes: 0, trials: 5))
        #expect(abs(none.lower) < 1e-12)
        #expect(abs(none.upper - 0.434482) < 1e-5)
        let all = try #require(WilsonInterval(successes: 5, trials: 5))
        #expect(abs(all.lower - 0.565518) < 1e-5 && abs(all.upper - 1) < 1e-12)
        #expect(WilsonInterval(successes: 0, trials: 0) == nil)
    }
}

@Suite struct KrippendorffAlphaTests {
    @Test func fourImagesMatchTheHandComputation() throws {
        // Units (images) and their values (A = Approve, D = Disapprove):
        //   u1: A A    u2: A D    u3: D D A    u4: D D
        // Coincidences o_ck = Σ_u (ordered c–k pairs in u) / (m_u − 1):
        //   u1: AA 2/1            → o_AA = 2
        //   u2: AD 1/1, DA 1/1    → o_AD = 1, o_DA = 1
        //   u3: DD 2/2, DA 2/2, AD 2/2 → o_DD = 1, o_DA = 2, o_AD = 2
        //   u4: DD 2/1            → o_DD = 3
        // n_A = o_AA + o_AD = 4, n_D = o_DA + o_DD = 5, n = 9
        // D_o = (o_AD + o_DA) / n = 4/9
        // D_e = (n_A·n_D + n_D·n_A) / (n(n − 1)) = 40/72 = 5/9
        // alpha = 1 − D_o / D_e = 1 − 4/5 = 0.2
        let alpha = try #require(KrippendorffAlpha.nominal([["A", "A"], ["A", "D"], ["D", "D", "A"], ["D", "D"]]))
        #expect(abs(alpha - 0.2) < 1e-12)
    }

    @Test func perfectAgreementIsOneAndSingleRatingsDoNotCount() throws {
        // u1: A A, u2: D D → o_AA = 2, o_DD = 2, n = 4, D_o = 0, D_e = 2·2·2/12 = 2/3 → alpha = 1.
        let alpha = try #require(KrippendorffAlpha.nominal([["A", "A"], ["D", "D"], ["A"]]))
        #expect(alpha == 1)
    }

    @Test func isUndefinedWithoutVariation() {
        #expect(KrippendorffAlpha.nominal([["A", "A"], ["A", "A", "A"]]) == nil)
        #expect(KrippendorffAlpha.nominal([["A"], ["D"]]) == nil)
    }
}

@Suite struct BinaryCoincidencesTests {
    /// The sums a database adds up give the same alpha as the coincidence matrix of the votes.
    @Test func giveTheAlphaOfTheVotes() throws {
        // The hand-computed example above: o_AA = 2, o_DD = 3, o_AD = 2 → alpha = 0.2.
        let example = BinaryCoincidences(approveApprove: 2, disapproveDisapprove: 3, approveDisapprove: 2)
        #expect(abs(try #require(example.alpha) - 0.2) < 1e-12)
        #expect(BinaryCoincidences(approveApprove: 2, disapproveDisapprove: 0, approveDisapprove: 0).alpha == nil, "no variation")
        #expect(BinaryCoincidences(approveApprove: 0, disapproveDisapprove: 0, approveDisapprove: 0).alpha == nil, "no pairs")

        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let units = (0..<(1 + random.next(below: 30))).map { _ in
                (0..<(1 + random.next(below: 6))).map { _ in random.next(below: 2) == 0 ? "A" : "D" }
            }
            var sums = BinaryCoincidences(approveApprove: 0, disapproveDisapprove: 0, approveDisapprove: 0)
            for unit in units where unit.count >= 2 {
                let a = Double(unit.count { $0 == "A" }), d = Double(unit.count) - a, m1 = Double(unit.count - 1)
                sums.approveApprove += a * (a - 1) / m1
                sums.disapproveDisapprove += d * (d - 1) / m1
                sums.approveDisapprove += a * d / m1
            }
            let expected = KrippendorffAlpha.nominal(units)
            #expect((sums.alpha == nil) == (expected == nil))
            if let alpha = sums.alpha, let expected { #expect(abs(alpha - expected) < 1e-9, "\(units)") }
        }
    }
}
