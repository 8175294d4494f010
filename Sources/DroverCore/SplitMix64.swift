/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of xoshiro): a tiny, fast
/// generator whose whole state is one seed, so a bootstrap run with the same seed gives the same
/// interval on every machine and Swift version — which `SystemRandomNumberGenerator` cannot.
/// Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<bound, as the high word of next() · bound (Lemire's multiply-shift, without
    /// the rejection step: its bias, under bound / 2⁶⁴, is far below what a bootstrap can see).
    /// Spelled out rather than `Int.random(in:using:)`, whose algorithm the standard library may change.
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "the bound must be positive")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
