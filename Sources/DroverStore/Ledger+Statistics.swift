import DroverCore
import GRDB

extension Ledger {
    /// The statistics of the ledger's images and active votes, read in one transaction.
    public func statistics() throws -> DatasetStatistics {
        try database.read { db in
            var images: [ImageID: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT image.id, generation.modelVersion FROM image JOIN generation ON generation.id = image.generationID") {
                images[row["id"]] = row["modelVersion"]
            }
            let votes = try Row.fetchAll(db, sql: "SELECT imageID, rater, rating FROM vote").map { row in
                let image: ImageID = row["imageID"]
                return StatisticsVote(image: image, rater: row["rater"], rating: row["rating"], modelVersion: images[image] ?? "")
            }
            return DatasetStatistics(images: images, votes: votes)
        }
    }
}
