import DroverCore
import GRDB

extension Ledger {
    /// The statistics of the ledger's images and active votes, read in one transaction from the
    /// totals that triggers keep (schema v9): a few small rows, however many votes there are.
    public func statistics() throws -> DatasetStatistics {
        try database.read { db in
            let versions = try Row.fetchAll(db, sql: """
                SELECT modelVersion, images, approvals, disapprovals FROM modelVersionTotal WHERE images > 0 ORDER BY modelVersion
                """).map { row in
                let approvals: Int = row["approvals"]
                return DatasetStatistics.ModelVersion(
                    modelVersion: row["modelVersion"], images: row["images"], votes: approvals + row["disapprovals"], approvals: approvals
                )
            }
            let raters = try Row.fetchAll(db, sql: """
                SELECT rater, approvals + disapprovals AS votes, approvals FROM raterTotal WHERE approvals + disapprovals > 0 ORDER BY votes DESC, rater
                """).map { row in
                DatasetStatistics.Rater(rater: row["rater"], votes: row["votes"], approvals: row["approvals"])
            }
            // Krippendorff's coincidences, summed over the images with two votes or more: each
            // image with a approvals and d disapprovals adds a(a-1)/(n-1), d(d-1)/(n-1), ad/(n-1).
            let agreement = try Row.fetchOne(db, sql: """
                SELECT TOTAL(images) AS images, TOTAL(images * (approvals + disapprovals)) AS votes,
                       TOTAL(images * approvals * (approvals - 1) * 1.0 / (approvals + disapprovals - 1)) AS aa,
                       TOTAL(images * disapprovals * (disapprovals - 1) * 1.0 / (approvals + disapprovals - 1)) AS dd,
                       TOTAL(images * approvals * disapprovals * 1.0 / (approvals + disapprovals - 1)) AS ad
                FROM tallyCount WHERE approvals + disapprovals >= 2
                """)!
            let coincidences = BinaryCoincidences(approveApprove: agreement["aa"], disapproveDisapprove: agreement["dd"], approveDisapprove: agreement["ad"])
            return DatasetStatistics(
                modelVersions: versions, raters: raters,
                agreement: .init(coincidences: coincidences, images: Int(agreement["images"] as Double), votes: Int(agreement["votes"] as Double))
            )
        }
    }

    /// Which of model versions `a` and `b` raters prefer, and how sure that is
    /// (``VersionComparison``), from the active votes, read in one transaction. The head-to-head
    /// pairs are a rater's votes on images of both versions made for the same request.
    /// - Parameters:
    ///   - detectableDifference: the difference in approval the planning figures are for.
    ///   - blindedOnly: count only images whose version was drawn blindly (`assignment: random`);
    ///     `false` also counts pinned, older and imported images, whose raters may have known
    ///     the version or rated in another period.
    public func comparison(
        of a: String, and b: String, detectableDifference: Double = 0.10, blindedOnly: Bool = true
    ) throws -> VersionComparison {
        let (images, votes) = try ratedImages(blindedOnly: blindedOnly)
        let paired = votes.map { PairedVote(request: $0.request, rater: $0.vote.rater, modelVersion: $0.vote.modelVersion, rating: $0.vote.rating) }
        return VersionComparison(
            a: a, b: b, images: images, votes: votes.map(\.vote), outcomes: HeadToHead.outcomes(a: a, b: b, votes: paired),
            detectableDifference: detectableDifference, blindedOnly: blindedOnly
        )
    }

    /// Every image's model version, and every active vote with the request its image was made for
    /// (older generations, made before requests were recorded, are each their own request).
    private func ratedImages(blindedOnly: Bool) throws -> (images: [ImageID: String], votes: [(vote: StatisticsVote, request: String)]) {
        try database.read { db in
            var images: [ImageID: (modelVersion: String, request: String)] = [:]
            let sql = """
                SELECT image.id, COALESCE(generation.requestID, generation.id) AS request, generation.modelVersion
                FROM image JOIN generation ON generation.id = image.generationID
                """ + (blindedOnly ? " WHERE generation.assignment = 'random'" : "")
            for row in try Row.fetchAll(db, sql: sql) {
                images[row["id"]] = (row["modelVersion"], row["request"])
            }
            let votes = try Row.fetchAll(db, sql: "SELECT imageID, rater, rating FROM vote").compactMap { row -> (vote: StatisticsVote, request: String)? in
                let image: ImageID = row["imageID"]
                guard let made = images[image] else { return nil }
                return (StatisticsVote(image: image, rater: row["rater"], rating: row["rating"], modelVersion: made.modelVersion), made.request)
            }
            return (images.mapValues(\.modelVersion), votes)
        }
    }
}
