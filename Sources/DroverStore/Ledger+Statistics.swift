import DroverCore
import GRDB

extension Ledger {
    /// The statistics of the ledger's images and active votes, read in one transaction.
    public func statistics() throws -> DatasetStatistics {
        let (images, votes) = try ratedImages()
        return DatasetStatistics(images: images, votes: votes.map(\.vote))
    }

    /// Which of model versions `a` and `b` raters prefer, and how sure that is
    /// (``VersionComparison``), from the active votes, read in one transaction. The head-to-head
    /// pairs are a rater's votes on images of both versions made for the same prompt.
    /// - Parameter detectableDifference: the difference in approval the planning figures are for.
    public func comparison(of a: String, and b: String, detectableDifference: Double = 0.10) throws -> VersionComparison {
        let (images, votes) = try ratedImages()
        let paired = votes.map { PairedVote(request: $0.request, rater: $0.vote.rater, modelVersion: $0.vote.modelVersion, rating: $0.vote.rating) }
        // Versions are not assigned blindly yet: every image counts, and the result says so.
        return VersionComparison(
            a: a, b: b, images: images, votes: votes.map(\.vote), outcomes: HeadToHead.outcomes(a: a, b: b, votes: paired),
            detectableDifference: detectableDifference, blindedOnly: false
        )
    }

    /// Every image's model version, and every active vote with the prompt its image was made for.
    private func ratedImages() throws -> (images: [ImageID: String], votes: [(vote: StatisticsVote, request: String)]) {
        try database.read { db in
            var images: [ImageID: (modelVersion: String, request: String)] = [:]
            let sql = "SELECT image.id, generation.prompt, generation.modelVersion FROM image JOIN generation ON generation.id = image.generationID"
            for row in try Row.fetchAll(db, sql: sql) {
                images[row["id"]] = (row["modelVersion"], row["prompt"])
            }
            let votes = try Row.fetchAll(db, sql: "SELECT imageID, rater, rating FROM vote").map { row in
                let image: ImageID = row["imageID"]
                let made = images[image]
                return (StatisticsVote(image: image, rater: row["rater"], rating: row["rating"], modelVersion: made?.modelVersion ?? ""), made?.request ?? "")
            }
            return (images.mapValues(\.modelVersion), votes)
        }
    }
}
