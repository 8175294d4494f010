#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard normal distribution's quantile function, for z-values at any α and power.
public enum StandardNormal {
    /// The z with Φ(z) = p, for 0 < p < 1, accurate to about 1e-16 (Wichura 1988, algorithm AS 241,
    /// PPND16); `nil` outside (0, 1).
    public static func quantile(_ p: Double) -> Double? {
        guard p > 0, p < 1 else { return nil }
        let q = p - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            return q * polynomial(r, [3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
                                      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
                                      3.3430575583588128105e4, 2.5090809287301226727e3])
                / polynomial(r, [1, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
                                 2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
                                 5.2264952788528545610e3])
        }
        var r = (-log(q < 0 ? p : 1 - p)).squareRoot()
        let z: Double
        if r <= 5 {
            r -= 1.6
            z = polynomial(r, [1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
                               3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
                               2.27238449892691845833e-2, 7.74545014278341407640e-4])
                / polynomial(r, [1, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
                                 1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                                 1.05075007164441684324e-9])
        } else {
            r -= 5
            z = polynomial(r, [6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
                               2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                               2.71155556874348757815e-5, 2.01033439929228813265e-7])
                / polynomial(r, [1, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
                                 7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
                                 2.04426310338993978564e-15])
        }
        return q < 0 ? -z : z
    }

    /// c₀ + c₁x + … by Horner's rule.
    private static func polynomial(_ x: Double, _ coefficients: [Double]) -> Double {
        coefficients.reversed().reduce(0) { $0 * x + $1 }
    }
}

/// How many votes per version a fixed-horizon comparison needs.
public enum SampleSize {
    /// Votes per version for the two-sided pooled two-proportion z-test to detect a difference of
    /// `difference` between approval rates centred on `baseRate`, rounded up:
    ///
    /// n = (z_{1−α/2} · √(2 p̄ q̄) + z_{power} · √(p₁q₁ + p₂q₂))² / Δ²,
    ///
    /// with p₁ = baseRate − Δ/2, p₂ = baseRate + Δ/2 (shifted to stay inside [0, 1]), p̄ = (p₁ + p₂)/2
    /// and q = 1 − p. Centring on the base rate, rather than putting it at one end, asks for the
    /// variance of the two rates the test would actually compare.
    /// - Returns: `nil` when Δ is not in (0, 1], or α or power not in (0, 1).
    public static func votesPerVersion(difference: Double, baseRate: Double, power: Double = 0.8, alpha: Double = 0.05) -> Int? {
        guard difference > 0, difference <= 1, (0...1).contains(baseRate),
              let zAlpha = StandardNormal.quantile(1 - alpha / 2), let zPower = StandardNormal.quantile(power)
        else { return nil }
        let p1 = min(max(baseRate - difference / 2, 0), 1 - difference), p2 = p1 + difference
        let pBar = (p1 + p2) / 2
        let root = zAlpha * (2 * pBar * (1 - pBar)).squareRoot() + zPower * (p1 * (1 - p1) + p2 * (1 - p2)).squareRoot()
        // Round away float noise (e.g. 391.99999999999994) before rounding up.
        let exact = root * root / (difference * difference)
        return Int(((exact * 1e9).rounded() / 1e9).rounded(.up))
    }
}
