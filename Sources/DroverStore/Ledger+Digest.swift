import DroverCore
import FoundationEssentials
import GRDB

/// What raters did in one period, for the Slack digest: each rater's rating of each image as it
/// stood at the period's end, counting only ratings given in the period (a rating taken back
/// within it does not count; imported votes never do).
public struct PeriodDigest: Sendable, Equatable {
    /// One image's ratings in the period.
    public struct RatedImage: Sendable, Equatable {
        public var imageID: ImageID
        /// The prompt it was made for.
        public var prompt: String
        /// Its 👍 in the period.
        public var approvals: Int
        /// Its 👎 in the period.
        public var disapprovals: Int
        /// The Slack file that shows the image, when Drover posted it to Slack (the newest post).
        public var slackFileID: String?

        /// The image's ratings in the period.
        public var votes: Int { approvals + disapprovals }
    }

    /// The prompt whose images raters disagreed on most.
    public struct DisputedPrompt: Sendable, Equatable {
        public var prompt: String
        /// Images made for the prompt that were rated in the period.
        public var images: Int
        /// 👍 on those images in the period.
        public var approvals: Int
        /// 👎 on those images in the period.
        public var disapprovals: Int
    }

    /// Ratings given in the period.
    public var votes: Int
    /// Raters who gave them.
    public var raters: Int
    /// Images they rated.
    public var images: Int
    /// Approval per model version (with its 95 % Wilson interval), from the period's ratings, by name.
    public var modelVersions: [DatasetStatistics.ModelVersion]
    /// The best-rated images, best first: more 👍 than 👎, by the lower end of the approval's
    /// Wilson interval, so that 9 of 10 ranks above 1 of 1.
    public var best: [RatedImage]
    /// The worst-rated images, worst first: more 👎 than 👍, by the upper end of the interval.
    public var worst: [RatedImage]
    /// The prompt with the most minority votes (the fewer of 👍 and 👎, summed over its images);
    /// `nil` when no image got both.
    public var mostDisputed: DisputedPrompt?
}

extension Ledger {
    /// The digest of the ratings given from `start` (included) to `end` (excluded), read in one
    /// transaction.
    /// - Parameter listing: how many best- and worst-rated images to name.
    public func digest(from start: Date, to end: Date, listing: Int = 3) throws -> PeriodDigest {
        let rows = try database.read { db in
            // The newest event per image × rater in the period is where its rating stood at the end
            // (SQLite takes the other columns from the row with the max()).
            try Row.fetchAll(db, sql: """
                WITH latest AS (
                    SELECT imageID, rater, rating, max(id) AS id FROM voteEvent
                    WHERE occurredAt >= ? AND occurredAt < ? AND source <> 'import'
                    GROUP BY imageID, rater
                )
                SELECT latest.imageID, latest.rater, latest.rating, generation.prompt, generation.modelVersion,
                       (SELECT fileID FROM slackMessage WHERE slackMessage.imageID = latest.imageID
                        ORDER BY postedAt DESC LIMIT 1) AS fileID
                FROM latest JOIN image ON image.id = latest.imageID JOIN generation ON generation.id = image.generationID
                WHERE latest.rating IS NOT NULL
                """, arguments: [start, end])
        }
        var images: [ImageID: (image: PeriodDigest.RatedImage, modelVersion: String)] = [:]
        var raters: Set<String> = []
        for row in rows {
            let imageID: ImageID = row["imageID"]
            let rating: Rating = row["rating"]
            raters.insert(row["rater"])
            var entry = images[imageID] ?? (
                PeriodDigest.RatedImage(imageID: imageID, prompt: row["prompt"], approvals: 0, disapprovals: 0, slackFileID: row["fileID"]),
                row["modelVersion"]
            )
            if rating == .approve { entry.image.approvals += 1 } else { entry.image.disapprovals += 1 }
            images[imageID] = entry
        }
        let rated = images.values.map(\.image)
        let modelVersions = Dictionary(grouping: images.values, by: \.modelVersion).map { version, entries in
            DatasetStatistics.ModelVersion(
                modelVersion: version, images: entries.count, votes: entries.map(\.image.votes).reduce(0, +),
                approvals: entries.map(\.image.approvals).reduce(0, +)
            )
        }.sorted { $0.modelVersion < $1.modelVersion }

        func interval(_ image: PeriodDigest.RatedImage) -> WilsonInterval {
            WilsonInterval(successes: image.approvals, trials: image.votes)!  // every image here has a rating
        }
        let best = rated.filter { $0.approvals > $0.disapprovals }
            .sorted { (interval($0).lower, $0.votes, $1.imageID.rawValue) > (interval($1).lower, $1.votes, $0.imageID.rawValue) }
        let worst = rated.filter { $0.disapprovals > $0.approvals }
            .sorted { (interval($0).upper, -$0.votes, $0.imageID.rawValue) < (interval($1).upper, -$1.votes, $1.imageID.rawValue) }

        let disputed = Dictionary(grouping: rated, by: \.prompt).map { prompt, images in
            (minority: images.map { min($0.approvals, $0.disapprovals) }.reduce(0, +),
             prompt: PeriodDigest.DisputedPrompt(
                prompt: prompt, images: images.count, approvals: images.map(\.approvals).reduce(0, +),
                disapprovals: images.map(\.disapprovals).reduce(0, +)
             ))
        }.filter { $0.minority > 0 }.max { first, second in
            let (a, b) = (first.prompt, second.prompt)
            return (first.minority, a.approvals + a.disapprovals, b.prompt) < (second.minority, b.approvals + b.disapprovals, a.prompt)
        }

        return PeriodDigest(
            votes: rows.count, raters: raters.count, images: rated.count, modelVersions: modelVersions,
            best: Array(best.prefix(listing)), worst: Array(worst.prefix(listing)), mostDisputed: disputed?.prompt
        )
    }
}
