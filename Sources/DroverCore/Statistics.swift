import FoundationEssentials

/// The 95 % Wilson score interval of a proportion: better than the normal approximation for
/// small samples and rates near 0 or 1.
public struct WilsonInterval: Codable, Sendable, Equatable {
    /// The two-sided 95 % normal quantile.
    public static let z95 = 1.959963984540054

    public var lower: Double
    public var upper: Double

    /// The interval for `successes` out of `trials`; `nil` when there are no trials.
    ///
    /// With p = successes / n: centre = (p + z²/2n) / (1 + z²/n) and
    /// half-width = z / (1 + z²/n) · √(p(1 − p)/n + z²/4n²).
    public init?(successes: Int, trials: Int, z: Double = z95) {
        guard trials > 0 else { return nil }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        lower = max(0, centre - half)
        upper = min(1, centre + half)
    }
}

/// Krippendorff's alpha, the agreement among raters beyond chance.
public enum KrippendorffAlpha {
    /// Alpha for nominal values: 1 − D_o / D_e, from the coincidence matrix of the units that have
    /// two or more values (one unit per image, one value per rater).
    ///
    /// o_ck = Σ_u (number of ordered c–k pairs in u) / (m_u − 1), n_c = Σ_k o_ck, n = Σ n_c,
    /// D_o = Σ_{c≠k} o_ck / n, D_e = Σ_{c≠k} n_c n_k / (n (n − 1)).
    /// - Returns: `nil` when no unit has two values, or when every value is the same (D_e = 0).
    public static func nominal<Value: Hashable>(_ units: [[Value]]) -> Double? {
        var coincidences: [Value: [Value: Double]] = [:]
        for unit in units where unit.count >= 2 {
            let weight = 1 / Double(unit.count - 1)
            for (i, c) in unit.enumerated() {
                for (j, k) in unit.enumerated() where i != j {
                    coincidences[c, default: [:]][k, default: 0] += weight
                }
            }
        }
        let totals = coincidences.mapValues { $0.values.reduce(0, +) }
        let n = totals.values.reduce(0, +)
        guard n > 1 else { return nil }
        var observed = 0.0
        for (c, row) in coincidences { for (k, count) in row where k != c { observed += count } }
        var expected = 0.0
        for (c, nc) in totals { for (k, nk) in totals where k != c { expected += nc * nk } }
        guard expected > 0 else { return nil }
        return 1 - (observed / n) / (expected / (n * (n - 1)))
    }
}

/// The coincidence sums of Krippendorff's alpha for two values (approve, disapprove), which a
/// database can add up image by image without sending the votes: over the images with m ≥ 2
/// votes, a of them approvals and d disapprovals, o_AA = Σ a(a − 1)/(m − 1),
/// o_DD = Σ d(d − 1)/(m − 1) and o_AD = o_DA = Σ a·d/(m − 1).
public struct BinaryCoincidences: Sendable, Equatable {
    public var approveApprove: Double
    public var disapproveDisapprove: Double
    public var approveDisapprove: Double

    public init(approveApprove: Double, disapproveDisapprove: Double, approveDisapprove: Double) {
        self.approveApprove = approveApprove
        self.disapproveDisapprove = disapproveDisapprove
        self.approveDisapprove = approveDisapprove
    }

    /// Alpha, as ``KrippendorffAlpha/nominal(_:)`` computes it for the same votes; `nil` when it is
    /// undefined (fewer than two pairable values, or no variation).
    public var alpha: Double? {
        let approvals = approveApprove + approveDisapprove, disapprovals = disapproveDisapprove + approveDisapprove
        let n = approvals + disapprovals
        guard n > 1 else { return nil }
        let expected = 2 * approvals * disapprovals
        guard expected > 0 else { return nil }
        return 1 - (2 * approveDisapprove / n) / (expected / (n * (n - 1)))
    }
}

/// One active vote, as the statistics see it.
public struct StatisticsVote: Sendable, Equatable {
    public var image: ImageID
    public var rater: String
    public var rating: Rating
    public var modelVersion: String

    public init(image: ImageID, rater: String, rating: Rating, modelVersion: String) {
        self.image = image
        self.rater = rater
        self.rating = rating
        self.modelVersion = modelVersion
    }
}

/// What `drover stats` and `GET /api/stats` report: per model version, per rater, and how much
/// raters agree.
public struct DatasetStatistics: Codable, Sendable, Equatable {
    /// Images, votes and approvals of one model version.
    public struct ModelVersion: Codable, Sendable, Equatable {
        public var modelVersion: String
        public var images: Int
        public var votes: Int
        public var approvals: Int
        /// approvals / votes; `nil` without votes.
        public var approvalRate: Double?
        /// The 95 % Wilson interval of the approval rate; `nil` without votes.
        public var approvalInterval: WilsonInterval?

        /// A version's figures from its counts.
        public init(modelVersion: String, images: Int, votes: Int, approvals: Int) {
            self.modelVersion = modelVersion
            self.images = images
            self.votes = votes
            self.approvals = approvals
            approvalRate = votes > 0 ? Double(approvals) / Double(votes) : nil
            approvalInterval = WilsonInterval(successes: approvals, trials: votes)
        }

        enum CodingKeys: String, CodingKey {
            case images, votes, approvals
            case modelVersion = "model_version"
            case approvalRate = "approval_rate"
            case approvalInterval = "approval_rate_95"
        }

        /// Every field is written, an absent one as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(modelVersion, forKey: .modelVersion)
            try container.encode(images, forKey: .images)
            try container.encode(votes, forKey: .votes)
            try container.encode(approvals, forKey: .approvals)
            try container.encode(approvalRate, forKey: .approvalRate)
            try container.encode(approvalInterval, forKey: .approvalInterval)
        }
    }

    /// One rater's votes.
    public struct Rater: Codable, Sendable, Equatable {
        public var rater: String
        public var votes: Int
        public var approvals: Int
        public var approvalRate: Double

        /// A rater's figures from their counts; `votes` must be above 0.
        public init(rater: String, votes: Int, approvals: Int) {
            self.rater = rater
            self.votes = votes
            self.approvals = approvals
            approvalRate = Double(approvals) / Double(votes)
        }

        enum CodingKeys: String, CodingKey {
            case rater, votes, approvals
            case approvalRate = "approval_rate"
        }
    }

    /// Inter-rater agreement over the images that two or more raters rated.
    public struct Agreement: Codable, Sendable, Equatable {
        /// Krippendorff's alpha (nominal); `nil` when it is undefined.
        public var krippendorffAlpha: Double?
        /// How many images had two or more raters.
        public var images: Int
        /// How many votes those images have.
        public var votes: Int

        /// The agreement over `images` images with two or more votes, `votes` in all.
        public init(coincidences: BinaryCoincidences, images: Int, votes: Int) {
            krippendorffAlpha = coincidences.alpha
            self.images = images
            self.votes = votes
        }

        enum CodingKeys: String, CodingKey {
            case images, votes
            case krippendorffAlpha = "krippendorff_alpha"
        }

        /// Every field is written, an absent one as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(krippendorffAlpha, forKey: .krippendorffAlpha)
            try container.encode(images, forKey: .images)
            try container.encode(votes, forKey: .votes)
        }
    }

    public var modelVersions: [ModelVersion]
    public var raters: [Rater]
    public var agreement: Agreement

    enum CodingKeys: String, CodingKey {
        case raters, agreement
        case modelVersions = "model_versions"
    }

    /// The statistics from counts the ledger adds up.
    /// - Parameters:
    ///   - modelVersions: per version, in the order to show them.
    ///   - raters: per rater, most votes first.
    ///   - agreement: over the images two or more raters rated.
    public init(modelVersions: [ModelVersion], raters: [Rater], agreement: Agreement) {
        self.modelVersions = modelVersions
        self.raters = raters
        self.agreement = agreement
    }
}
