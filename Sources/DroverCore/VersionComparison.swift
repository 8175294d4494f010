/// One model version's counts, the input to a ``VersionComparison``.
public struct VersionTally: Sendable, Equatable {
    /// The version's name, as the images' `model_version` spells it.
    public var modelVersion: String
    /// Images of this version, rated or not.
    public var images: Int
    /// Active votes on its images.
    public var votes: Int
    /// How many of those votes approve.
    public var approvals: Int

    /// Counts of one version; `approvals` must be some of `votes`.
    public init(modelVersion: String, images: Int, votes: Int, approvals: Int) {
        precondition(votes >= 0 && (0...votes).contains(approvals), "approvals are some of the votes")
        self.modelVersion = modelVersion
        self.images = images
        self.votes = votes
        self.approvals = approvals
    }
}

/// What `drover compare A B` and `GET /api/compare` report: how two model versions' approval
/// compares, whether the votes are enough to tell, and how many more it would take.
///
/// The figures are **fixed-horizon**: the Wilson and Newcombe intervals and the power calculation
/// assume the number of votes was chosen before looking. Reading them again and again as votes
/// arrive and stopping at the first "clear difference" inflates false positives (ten looks at
/// |z| > 1.96 give about 19–20 % instead of 5 % when there is no difference; Armitage, McPherson &
/// Rowe 1969), so every result carries ``peekingWarning``. We chose this over an always-valid
/// sequential method (a mixture SPRT, say) because its intervals are the ones people know, the
/// planning figure gives the horizon to wait for, and an always-valid interval needs a tuning
/// prior and is wider at every sample size — a cost paid even by teams who look once.
///
/// Only blinded images (`assignment: random`) should be counted: the caller filters, and says so
/// with `blindedOnly`.
public struct VersionComparison: Codable, Sendable, Equatable {
    /// Below this many votes per version the verdict is "too few votes", whatever the intervals say.
    public static let minimumVotesPerVersion = 30
    /// Below this many pairs the head-to-head carries a "too few pairs" warning.
    public static let minimumPairs = 30
    /// The warning every fixed-horizon result carries.
    public static let peekingWarning = """
        These figures are fixed-horizon: decide how many votes to collect (see planning) and read the \
        result once. Looking repeatedly at this test inflates false positives: ten looks at 1.96 give \
        about 20 % instead of 5 % when there is no difference.
        """

    /// One version's approval: the same figures ``DatasetStatistics`` gives per version.
    public typealias Version = DatasetStatistics.ModelVersion

    /// B's approval rate minus A's.
    public struct Difference: Codable, Sendable, Equatable {
        /// p_B − p_A; `nil` unless both versions have votes.
        public var estimate: Double?
        /// Its 95 % Newcombe hybrid score interval; `nil` unless both versions have votes.
        public var interval: NewcombeInterval?
        /// The votes on A this figure rests on.
        public var votesA: Int
        /// The votes on B this figure rests on.
        public var votesB: Int

        enum CodingKeys: String, CodingKey {
            case estimate = "b_minus_a", interval = "b_minus_a_95", votesA = "votes_a", votesB = "votes_b"
        }

        /// Encodes every field, `nil` as null, so a JSON reader always finds every key.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(estimate, forKey: .estimate)
            try container.encode(interval, forKey: .interval)
            try container.encode(votesA, forKey: .votesA)
            try container.encode(votesB, forKey: .votesB)
        }
    }

    /// The posterior probability that B's true approval rate exceeds A's.
    public struct Superiority: Codable, Sendable, Equatable {
        /// P(p_B > p_A) under independent Beta(1 + approvals, 1 + disapprovals) posteriors; `nil`
        /// unless both versions have votes (without votes it would only restate the prior's ½).
        public var probability: Double?
        /// How it was computed; `nil` with the probability.
        public var method: BetaComparison.Method?
        /// The votes on A this figure rests on.
        public var votesA: Int
        /// The votes on B this figure rests on.
        public var votesB: Int

        enum CodingKeys: String, CodingKey {
            case probability, method, votesA = "votes_a", votesB = "votes_b"
        }

        /// Encodes every field, `nil` as null, so a JSON reader always finds every key.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(probability, forKey: .probability)
            try container.encode(method, forKey: .method)
            try container.encode(votesA, forKey: .votesA)
            try container.encode(votesB, forKey: .votesB)
        }
    }

    /// How many votes per version a fixed-horizon test needs to detect `difference`.
    public struct Planning: Codable, Sendable, Equatable {
        /// The difference in approval to detect, as a fraction (0.10 = 10 points).
        public var difference: Double
        /// The chance of detecting the difference when it is real.
        public var power: Double
        /// Two-sided.
        public var alpha: Double
        /// The pooled approval rate of both versions the rates are centred on; 0.5 (the most
        /// demanding) without votes.
        public var baseRate: Double
        /// The votes the base rate rests on.
        public var baseRateVotes: Int
        /// From ``SampleSize/votesPerVersion(difference:baseRate:power:alpha:)``; `nil` when the
        /// settings are out of range.
        public var votesPerVersion: Int?
        /// votesPerVersion − A's votes, never negative.
        public var remainingA: Int?
        /// votesPerVersion − B's votes, never negative.
        public var remainingB: Int?

        enum CodingKeys: String, CodingKey {
            case difference, power, alpha
            case baseRate = "base_rate", baseRateVotes = "base_rate_votes", votesPerVersion = "votes_per_version"
            case remainingA = "remaining_a", remainingB = "remaining_b"
        }

        /// Encodes every field, `nil` as null, so a JSON reader always finds every key.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(difference, forKey: .difference)
            try container.encode(power, forKey: .power)
            try container.encode(alpha, forKey: .alpha)
            try container.encode(baseRate, forKey: .baseRate)
            try container.encode(baseRateVotes, forKey: .baseRateVotes)
            try container.encode(votesPerVersion, forKey: .votesPerVersion)
            try container.encode(remainingA, forKey: .remainingA)
            try container.encode(remainingB, forKey: .remainingB)
        }
    }

    /// How to read the figures; see the type's documentation.
    public enum Design: String, Codable, Sendable {
        /// Read once, at the planned number of votes.
        case fixedHorizon = "fixed_horizon"
    }

    /// The conclusion, worst case first.
    public enum Verdict: String, Codable, Sendable {
        /// Neither version has votes.
        case noVotes = "no_votes"
        /// Only one version has votes.
        case oneVersionOnly = "one_version_only"
        /// A version has fewer than ``VersionComparison/minimumVotesPerVersion`` votes.
        case tooFewVotes = "too_few_votes"
        /// The difference's 95 % interval includes 0.
        case noClearDifference = "no_clear_difference"
        /// The difference's 95 % interval lies below 0.
        case aBetter = "a_better"
        /// The difference's 95 % interval lies above 0.
        case bBetter = "b_better"
    }

    /// The baseline.
    public var a: Version
    /// The challenger.
    public var b: Version
    /// B's approval rate minus A's.
    public var difference: Difference
    /// The posterior probability that B's true approval rate exceeds A's.
    public var probabilityBBetter: Superiority
    /// The paired comparison from raters who rated both versions for the same request.
    public var headToHead: HeadToHead
    /// How many votes per version a conclusive test would need, and how many are still missing.
    public var planning: Planning
    /// Always fixed-horizon; see the type's documentation.
    public var design: Design
    /// Whether only blinded (`assignment: random`) images were counted.
    public var blindedOnly: Bool
    /// What the votes say, or why they cannot say yet.
    public var verdict: Verdict
    /// The verdict in one sentence, with the votes it rests on.
    public var summary: String
    /// Everything that limits what the figures can say, in words.
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case a, b, difference, planning, design, verdict, summary, warnings
        case probabilityBBetter = "probability_b_better"
        case headToHead = "head_to_head"
        case blindedOnly = "blinded_only"
    }

    /// Compares version B with version A.
    /// - Parameters:
    ///   - a: the baseline's counts.
    ///   - b: the challenger's counts.
    ///   - outcomes: one outcome per paired rating (see ``HeadToHead/outcomes(a:b:votes:)``).
    ///   - detectableDifference: the difference in approval the planning figure is for.
    ///   - power: the chance of detecting that difference when it is real.
    ///   - alpha: the two-sided false-positive rate.
    ///   - blindedOnly: whether the caller counted only `assignment: random` images.
    ///   - replicates: bootstrap resamples of the head-to-head.
    ///   - seed: the bootstrap's seed.
    public init(
        a: VersionTally, b: VersionTally, outcomes: [PairOutcome] = [], detectableDifference: Double = 0.10,
        power: Double = 0.80, alpha: Double = 0.05, blindedOnly: Bool = true, replicates: Int = 2000, seed: UInt64 = 18
    ) {
        let versionA = Version(modelVersion: a.modelVersion, images: a.images, votes: a.votes, approvals: a.approvals)
        let versionB = Version(modelVersion: b.modelVersion, images: b.images, votes: b.votes, approvals: b.approvals)
        self.a = versionA
        self.b = versionB
        let bothVoted = a.votes > 0 && b.votes > 0
        difference = Difference(
            estimate: versionA.approvalRate.flatMap { rateA in versionB.approvalRate.map { $0 - rateA } },
            interval: NewcombeInterval(successesA: a.approvals, trialsA: a.votes, successesB: b.approvals, trialsB: b.votes),
            votesA: a.votes, votesB: b.votes
        )
        let superiority = bothVoted ? BetaComparison.probabilityBExceedsA(
            approvalsA: a.approvals, disapprovalsA: a.votes - a.approvals,
            approvalsB: b.approvals, disapprovalsB: b.votes - b.approvals
        ) : nil
        probabilityBBetter = Superiority(
            probability: superiority?.probability, method: superiority?.method, votesA: a.votes, votesB: b.votes
        )
        headToHead = HeadToHead(a: a.modelVersion, b: b.modelVersion, outcomes: outcomes, replicates: replicates, seed: seed)
        let pooledVotes = a.votes + b.votes
        let baseRate = pooledVotes > 0 ? Double(a.approvals + b.approvals) / Double(pooledVotes) : 0.5
        let needed = SampleSize.votesPerVersion(difference: detectableDifference, baseRate: baseRate, power: power, alpha: alpha)
        planning = Planning(
            difference: detectableDifference, power: power, alpha: alpha, baseRate: baseRate, baseRateVotes: pooledVotes,
            votesPerVersion: needed, remainingA: needed.map { max(0, $0 - a.votes) }, remainingB: needed.map { max(0, $0 - b.votes) }
        )
        design = .fixedHorizon
        self.blindedOnly = blindedOnly
        (verdict, summary) = Self.conclude(a: versionA, b: versionB, difference: difference, planning: planning)
        warnings = Self.warnings(a: versionA, b: versionB, headToHead: headToHead, blindedOnly: blindedOnly)
    }

    /// Compares versions `a` and `b` from the same inputs as ``DatasetStatistics``.
    /// - Parameters:
    ///   - images: every image's model version, rated or not.
    ///   - votes: the active votes.
    public init(
        a: String, b: String, images: [ImageID: String], votes: [StatisticsVote], outcomes: [PairOutcome] = [],
        detectableDifference: Double = 0.10, blindedOnly: Bool = true, seed: UInt64 = 18
    ) {
        func tally(_ version: String) -> VersionTally {
            let versionVotes = votes.filter { $0.modelVersion == version }
            return VersionTally(
                modelVersion: version, images: images.values.count { $0 == version }, votes: versionVotes.count,
                approvals: versionVotes.count { $0.rating == .approve }
            )
        }
        self.init(
            a: tally(a), b: tally(b), outcomes: outcomes, detectableDifference: detectableDifference,
            blindedOnly: blindedOnly, seed: seed
        )
    }

    // MARK: - Words

    private static func conclude(a: Version, b: Version, difference: Difference, planning: Planning) -> (Verdict, String) {
        let minimum = minimumVotesPerVersion
        let plan = planning.votesPerVersion.map {
            " To detect a \(points(planning.difference, signed: false)) difference takes about \($0) votes per version."
        } ?? ""
        if a.votes == 0 && b.votes == 0 {
            return (.noVotes, "No votes for \(a.modelVersion) or \(b.modelVersion) yet: nothing to compare." + plan)
        }
        if a.votes == 0 || b.votes == 0 {
            let (voted, unvoted) = a.votes > 0 ? (a, b) : (b, a)
            return (.oneVersionOnly,
                    "Only \(voted.modelVersion) has votes (\(voted.votes)); \(unvoted.modelVersion) has none yet, so there is nothing to compare." + plan)
        }
        guard let estimate = difference.estimate, let interval = difference.interval else {
            return (.noVotes, "Nothing to compare.")  // unreachable: both versions have votes
        }
        let range = "\(points(estimate)) (95 % interval \(signed(interval.lower)) to \(points(interval.upper)))"
        let resting = "on \(a.votes) votes for \(a.modelVersion) and \(b.votes) for \(b.modelVersion)"
        if a.votes < minimum || b.votes < minimum {
            return (.tooFewVotes,
                    "Too few votes to conclude: \(b.modelVersion) − \(a.modelVersion) = \(range) \(resting); collect at least \(minimum) per version." + plan)
        }
        if interval.contains(0) {
            return (.noClearDifference, "No clear difference yet: \(b.modelVersion) − \(a.modelVersion) = \(range) \(resting)." + plan)
        }
        let (better, worse) = interval.lower > 0 ? (b, a) : (a, b)
        return (interval.lower > 0 ? .bBetter : .aBetter,
                "\(better.modelVersion) is approved more often than \(worse.modelVersion): \(b.modelVersion) − \(a.modelVersion) = \(range) \(resting).")
    }

    private static func warnings(a: Version, b: Version, headToHead: HeadToHead, blindedOnly: Bool) -> [String] {
        var warnings = [peekingWarning]
        for version in [a, b] {
            if version.votes == 0 {
                warnings.append("\(version.modelVersion) has no votes yet.")
            } else if version.votes < minimumVotesPerVersion {
                warnings.append("\(version.modelVersion) has only \(version.votes) votes; fewer than \(minimumVotesPerVersion) per version are too few to conclude.")
            }
            if version.votes > 0 && (version.approvals == version.votes || version.approvals == 0) {
                let word = version.approvals == 0 ? "disapprove" : "approve"
                warnings.append("All \(version.votes) votes for \(version.modelVersion) \(word): its rate is at the edge, where approval alone separates versions poorly; see the head-to-head.")
            }
        }
        if headToHead.pairs == 0 {
            warnings.append("No rater has rated both versions for the same request, so there is no head-to-head.")
        } else {
            if headToHead.pairs < minimumPairs {
                warnings.append("The head-to-head rests on only \(headToHead.pairs) pairs; fewer than \(minimumPairs) are too few to conclude.")
            }
            if headToHead.ties == headToHead.pairs {
                warnings.append("Every head-to-head pair is a tie: raters judged both versions alike.")
            }
        }
        if !blindedOnly {
            warnings.append("Images not assigned at random are included, so who saw which version may bias the comparison.")
        }
        return warnings
    }

    /// A fraction as signed percentage points with one decimal: 0.1234 → "+12.3 points".
    static func points(_ fraction: Double, signed: Bool = true) -> String {
        (signed ? self.signed(fraction) : self.signed(abs(fraction)).replacing("+", with: "")) + " points"
    }

    /// A fraction as a signed number of percentage points with one decimal: 0.1234 → "+12.3".
    static func signed(_ fraction: Double) -> String {
        let tenths = Int((fraction * 1000).rounded())
        let sign = tenths == 0 ? "" : tenths > 0 ? "+" : "-"
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}
