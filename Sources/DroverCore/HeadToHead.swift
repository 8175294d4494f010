#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who won one pair: the same rater rated an image of version A and an image of version B made for
/// the same request (same prompt), so the rater's taste and the prompt's difficulty cancel out.
public enum PairOutcome: String, Codable, Sendable, CaseIterable {
    /// A's image was approved, B's not.
    case aWon = "a_won"
    /// B's image was approved, A's not.
    case bWon = "b_won"
    /// Both approved, or both not.
    case tie

    /// The outcome when the rater gave A's image `a` and B's image `b`: approve beats disapprove,
    /// the same rating is a tie.
    public init(a: Rating, b: Rating) {
        self = a == b ? .tie : a == .approve ? .aWon : .bWon
    }
}

/// One vote as the head-to-head sees it: which request the image was made for, who rated it.
public struct PairedVote: Sendable, Equatable {
    /// The generation request (prompt) the image was made for.
    public var request: String
    /// Who rated it.
    public var rater: String
    /// The image's model version.
    public var modelVersion: String
    /// The rater's rating.
    public var rating: Rating

    /// A vote on an image made for `request`.
    public init(request: String, rater: String, modelVersion: String, rating: Rating) {
        self.request = request
        self.rater = rater
        self.modelVersion = modelVersion
        self.rating = rating
    }
}

/// The head-to-head of two versions over paired outcomes: counts, shares with ties, and a
/// Bradley–Terry strength per version with a bootstrap interval.
public struct HeadToHead: Codable, Sendable, Equatable {
    /// One version's Bradley–Terry strength.
    ///
    /// With two versions the Bradley–Terry model has one free parameter, and its maximum-likelihood
    /// fit is closed-form: a tie counts as half a win for each side (the usual convention, and the
    /// one that keeps the fit defined when ties are common), w_A = wins_A + ties/2, w_B likewise,
    /// and the strength π_X = w_X / pairs — the estimated probability that X beats the other, a
    /// tie counting half.
    public struct Strength: Codable, Sendable, Equatable {
        /// The version this strength is for.
        public var modelVersion: String
        /// π, in [0, 1]; the two versions' strengths add up to 1.
        public var strength: Double
        /// The 95 % percentile-bootstrap interval of π.
        public var interval: BootstrapInterval
        /// The log-strength θ = ½ log(π / (1 − π)), so that θ_A + θ_B = 0 and θ_B − θ_A is the
        /// log-odds of B beating A; `nil` (unbounded) when the other version never won or tied.
        public var logStrength: Double?

        enum CodingKeys: String, CodingKey {
            case strength, interval
            case modelVersion = "model_version"
            case logStrength = "log_strength"
        }

        /// Encodes every field, `nil` as null, so a JSON reader always finds every key.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(modelVersion, forKey: .modelVersion)
            try container.encode(strength, forKey: .strength)
            try container.encode(interval, forKey: .interval)
            try container.encode(logStrength, forKey: .logStrength)
        }
    }

    /// A percentile-bootstrap interval and how it was drawn, so that anyone can reproduce it.
    public struct BootstrapInterval: Codable, Sendable, Equatable {
        /// The 2.5th percentile of the resampled strengths.
        public var lower: Double
        /// The 97.5th percentile.
        public var upper: Double
        /// How many resamples of the pairs.
        public var replicates: Int
        /// The SplitMix64 seed.
        public var seed: UInt64
    }

    /// How many pairs the figures rest on.
    public var pairs: Int
    /// Pairs A won.
    public var aWins: Int
    /// Pairs B won.
    public var bWins: Int
    /// Pairs neither won; they count half a win each in the strengths.
    public var ties: Int
    /// aWins / pairs; `nil` without pairs (likewise the other shares).
    public var aShare: Double?
    /// bWins / pairs.
    public var bShare: Double?
    /// ties / pairs.
    public var tieShare: Double?
    /// A's and B's Bradley–Terry strengths; `nil` without pairs.
    public var bradleyTerry: [Strength]?

    enum CodingKeys: String, CodingKey {
        case pairs, ties
        case aWins = "a_wins", bWins = "b_wins"
        case aShare = "a_share", bShare = "b_share", tieShare = "tie_share"
        case bradleyTerry = "bradley_terry"
    }

    /// - Parameters:
    ///   - a: version A's name, for the strengths.
    ///   - b: version B's name.
    ///   - outcomes: one outcome per pair.
    ///   - replicates: bootstrap resamples; 2,000 keep the interval's ends stable to about 0.01.
    ///   - seed: the SplitMix64 seed; the same seed and outcomes always give the same interval.
    ///
    /// The bootstrap resamples pairs as if independent; when a few raters contribute most pairs
    /// the interval is somewhat too narrow.
    public init(a: String, b: String, outcomes: [PairOutcome], replicates: Int = 2000, seed: UInt64 = 18) {
        precondition(replicates >= 2, "a bootstrap needs two or more replicates")
        aWins = outcomes.count { $0 == .aWon }
        bWins = outcomes.count { $0 == .bWon }
        ties = outcomes.count - aWins - bWins
        pairs = outcomes.count
        guard pairs > 0 else {
            aShare = nil; bShare = nil; tieShare = nil; bradleyTerry = nil
            return
        }
        let n = Double(pairs)
        aShare = Double(aWins) / n
        bShare = Double(bWins) / n
        tieShare = Double(ties) / n
        let strengthB = (Double(bWins) + Double(ties) / 2) / n
        // Resampling pairs with replacement only changes the counts, so each draw picks an outcome
        // by its index in the order A wins, B wins, ties; no array of outcomes is needed.
        var generator = SplitMix64(seed: seed)
        var resampled: [Double] = []
        resampled.reserveCapacity(replicates)
        for _ in 0..<replicates {
            var score = 0  // B's wins count 2, ties 1: twice B's half-win total, kept in integers
            for _ in 0..<pairs {
                let draw = generator.next(below: pairs)
                score += draw < aWins ? 0 : draw < aWins + bWins ? 2 : 1
            }
            resampled.append(Double(score) / (2 * n))
        }
        resampled.sort()
        let lowerB = Self.quantile(resampled, 0.025), upperB = Self.quantile(resampled, 0.975)
        let logOdds: Double? = strengthB > 0 && strengthB < 1 ? log(strengthB / (1 - strengthB)) / 2 : nil
        bradleyTerry = [
            Strength(
                modelVersion: a, strength: 1 - strengthB,
                interval: BootstrapInterval(lower: 1 - upperB, upper: 1 - lowerB, replicates: replicates, seed: seed),
                logStrength: logOdds.map { -$0 }
            ),
            Strength(
                modelVersion: b, strength: strengthB,
                interval: BootstrapInterval(lower: lowerB, upper: upperB, replicates: replicates, seed: seed),
                logStrength: logOdds
            ),
        ]
    }

    /// One outcome per request and rater who rated images of both versions for that request: the
    /// version whose images that rater approved a larger share of wins, equal shares tie. One
    /// outcome per (request, rater), not one per pair of images, so a rater who rated many images
    /// of one request does not count many times.
    public static func outcomes(a: String, b: String, votes: [PairedVote]) -> [PairOutcome] {
        struct Key: Hashable { var request: String, rater: String }
        var tallies: [Key: (aVotes: Int, aApprovals: Int, bVotes: Int, bApprovals: Int)] = [:]
        for vote in votes where vote.modelVersion == a || vote.modelVersion == b {
            let approval = vote.rating == .approve ? 1 : 0
            let key = Key(request: vote.request, rater: vote.rater)
            var tally = tallies[key] ?? (0, 0, 0, 0)
            if vote.modelVersion == a { tally.aVotes += 1; tally.aApprovals += approval }
            else { tally.bVotes += 1; tally.bApprovals += approval }
            tallies[key] = tally
        }
        return tallies.values.compactMap { tally in
            guard tally.aVotes > 0, tally.bVotes > 0 else { return nil }
            // Compare aApprovals/aVotes with bApprovals/bVotes without division.
            let a = tally.aApprovals * tally.bVotes, b = tally.bApprovals * tally.aVotes
            return a == b ? .tie : a > b ? .aWon : .bWon
        }
    }

    /// The linearly interpolated quantile of sorted values (numpy's default, Hyndman–Fan type 7).
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        let h = Double(sorted.count - 1) * p
        let below = Int(h.rounded(.down)), above = min(below + 1, sorted.count - 1)
        return sorted[below] + (h - Double(below)) * (sorted[above] - sorted[below])
    }

    /// Encodes every field, `nil` as null, so a JSON reader always finds every key.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pairs, forKey: .pairs)
        try container.encode(aWins, forKey: .aWins)
        try container.encode(bWins, forKey: .bWins)
        try container.encode(ties, forKey: .ties)
        try container.encode(aShare, forKey: .aShare)
        try container.encode(bShare, forKey: .bShare)
        try container.encode(tieShare, forKey: .tieShare)
        try container.encode(bradleyTerry, forKey: .bradleyTerry)
    }
}
