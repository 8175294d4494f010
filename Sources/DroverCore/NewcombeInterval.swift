/// The 95 % Newcombe hybrid score interval of a difference of two proportions, p_B − p_A
/// (Newcombe 1998, "Interval estimation for the difference between independent proportions",
/// method 10): it is built from the two Wilson intervals, so it keeps their good coverage for small
/// samples and rates near 0 or 1, where the textbook Wald interval fails.
public struct NewcombeInterval: Codable, Sendable, Equatable {
    /// The lower end, in [−1, 1].
    public var lower: Double
    /// The upper end, in [−1, 1].
    public var upper: Double

    /// The interval of p_B − p_A; `nil` when either side has no trials.
    ///
    /// With d = p_B − p_A and Wilson intervals (l_A, u_A), (l_B, u_B):
    /// lower = d − √((p_B − l_B)² + (u_A − p_A)²), upper = d + √((u_B − p_B)² + (p_A − l_A)²).
    public init?(successesA: Int, trialsA: Int, successesB: Int, trialsB: Int, z: Double = WilsonInterval.z95) {
        guard let a = WilsonInterval(successes: successesA, trials: trialsA, z: z),
              let b = WilsonInterval(successes: successesB, trials: trialsB, z: z)
        else { return nil }
        let pA = Double(successesA) / Double(trialsA), pB = Double(successesB) / Double(trialsB)
        let d = pB - pA
        lower = d - ((pB - b.lower) * (pB - b.lower) + (a.upper - pA) * (a.upper - pA)).squareRoot()
        upper = d + ((b.upper - pB) * (b.upper - pB) + (pA - a.lower) * (pA - a.lower)).squareRoot()
    }

    /// Whether the interval contains `value` (for a difference: whether "no difference" is still plausible).
    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}
