#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The probability that one version's true approval rate exceeds another's, under independent
/// Beta posteriors: with a uniform Beta(1, 1) prior, p ~ Beta(1 + approvals, 1 + disapprovals).
public enum BetaComparison {
    /// How ``probabilityBExceedsA(approvalsA:disapprovalsA:approvalsB:disapprovalsB:maximumTerms:)`` got its figure.
    public enum Method: String, Codable, Sendable {
        /// Evan Miller's closed-form sum for integer parameters, exact up to rounding.
        case exactSum = "exact_sum"
        /// Trapezoidal integration of ∫ f_B(x) F_A(x) dx on a fine grid, for counts too large to sum.
        case numericIntegration = "numeric_integration"
    }

    /// P(p_B > p_A) with p_A ~ Beta(1 + approvalsA, 1 + disapprovalsA) and p_B likewise, independent.
    ///
    /// The exact sum (Evan Miller, "Formulas for Bayesian A/B testing") is
    /// P = Σ_{i=0}^{α_B−1} B(α_A + i, β_A + β_B) / ((β_B + i) B(1 + i, β_B) B(α_A, β_A)).
    /// Its length is α_B, but the symmetries P(p_B > p_A) = 1 − P(p_A > p_B) = P(1 − p_A > 1 − p_B)
    /// let us sum over whichever of α_A, β_A, α_B, β_B is smallest, so it stays short unless every
    /// count is large. The terms are run in log space (consecutive terms differ by a rational
    /// factor), so no term under- or overflows.
    /// - Parameter maximumTerms: longer sums fall back to numeric integration (accurate to about 1e-6).
    /// - Returns: the probability and how it was computed.
    public static func probabilityBExceedsA(
        approvalsA: Int, disapprovalsA: Int, approvalsB: Int, disapprovalsB: Int, maximumTerms: Int = 1_000_000
    ) -> (probability: Double, method: Method) {
        precondition(min(approvalsA, disapprovalsA, approvalsB, disapprovalsB) >= 0, "counts are never negative")
        let aA = approvalsA + 1, bA = disapprovalsA + 1, aB = approvalsB + 1, bB = disapprovalsB + 1
        let shortest = min(aA, bA, aB, bB)
        guard shortest <= maximumTerms else {
            return (integrated(aA: Double(aA), bA: Double(bA), aB: Double(aB), bB: Double(bB)), .numericIntegration)
        }
        let probability =
            if shortest == aB { millerSum(aA: aA, bA: bA, aB: aB, bB: bB) }
            else if shortest == aA { 1 - millerSum(aA: aB, bA: bB, aB: aA, bB: bA) }
            else if shortest == bA { millerSum(aA: bB, bA: aB, aB: bA, bB: aA) }
            else { 1 - millerSum(aA: bA, bA: aA, aB: bB, bB: aB) }
        return (min(1, max(0, probability)), .exactSum)
    }

    /// Σ_{i=0}^{aB−1} t_i with log t_0 = log B(aA, bA + bB) − log B(aA, bA) and
    /// t_{i+1} / t_i = (aA + i)(bB + i) / ((aA + bA + bB + i)(1 + i)).
    static func millerSum(aA: Int, bA: Int, aB: Int, bB: Int) -> Double {
        let a = Double(aA), b = Double(bA), c = Double(bB)
        var logTerm = logBeta(a, b + c) - logBeta(a, b)
        var logTotal = logTerm
        for i in 1..<max(aB, 1) {
            let k = Double(i - 1)
            logTerm += log(a + k) + log(c + k) - log(a + b + c + k) - log(1 + k)
            logTotal = logAddExp(logTotal, logTerm)
        }
        return exp(logTotal)
    }

    /// P(p_B > p_A) = ∫ f_B(x) F_A(x) dx on a grid spanning ±12 standard deviations of both posteriors.
    static func integrated(aA: Double, bA: Double, aB: Double, bB: Double) -> Double {
        func spread(_ a: Double, _ b: Double) -> (mean: Double, sd: Double) {
            (a / (a + b), (a * b / ((a + b) * (a + b) * (a + b + 1))).squareRoot())
        }
        let (meanA, sdA) = spread(aA, bA), (meanB, sdB) = spread(aB, bB)
        let low = max(0, min(meanA - 12 * sdA, meanB - 12 * sdB)), high = min(1, max(meanA + 12 * sdA, meanB + 12 * sdB))
        let steps = 20_000, h = (high - low) / Double(steps)
        let grid = (0...steps).map { low + Double($0) * h }
        func density(_ a: Double, _ b: Double) -> [Double] {
            // Unnormalised log density; the normalising constant cancels below.
            let logs = grid.map { x -> Double in
                guard x > 0, x < 1 else { return (x <= 0 && a == 1) || (x >= 1 && b == 1) ? 0 : -.infinity }
                return (a - 1) * log(x) + (b - 1) * log1p(-x)
            }
            let peak = logs.max() ?? 0
            return logs.map { exp($0 - peak) }
        }
        let fA = density(aA, bA), fB = density(aB, bB)
        var cumulativeA = [0.0]
        cumulativeA.reserveCapacity(grid.count)
        for j in 1...steps { cumulativeA.append(cumulativeA[j - 1] + h * (fA[j - 1] + fA[j]) / 2) }
        let totalA = cumulativeA[steps]
        var totalB = 0.0, joint = 0.0
        for j in 1...steps {
            totalB += h * (fB[j - 1] + fB[j]) / 2
            joint += h * (fB[j - 1] * cumulativeA[j - 1] + fB[j] * cumulativeA[j]) / 2
        }
        return min(1, max(0, joint / (totalA * totalB)))
    }

    static func logBeta(_ a: Double, _ b: Double) -> Double { logGamma(a) + logGamma(b) - logGamma(a + b) }

    /// log Γ(x) for x > 0, through lgamma_r: plain lgamma writes the global `signgam`, a data race
    /// when two requests compare versions at once.
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    static func logAddExp(_ x: Double, _ y: Double) -> Double {
        let high = max(x, y), low = min(x, y)
        return high == -.infinity ? high : high + log1p(exp(low - high))
    }
}
