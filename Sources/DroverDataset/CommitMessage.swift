import DroverCore
import DroverStore

/// The message of a dataset commit: a subject a person can read in `git log --oneline`, one
/// line per change when there are several, and trailers naming every change so that the ledger
/// can be reconciled with the repository after a crash.
enum CommitMessage {
    static let imagesTrailer = "Drover-Images:"
    static let voteEventsTrailer = "Drover-Vote-Events:"

    static func make(for changes: PendingChanges) -> String {
        let lines = changes.images.map(describe) + changes.votes.map(describe)
        let generations = Set(changes.images.map(\.generation.id))
        var message: String
        if lines.count == 1 {
            message = lines[0] + "\n"
        } else if changes.votes.isEmpty, generations.count == 1, let first = changes.images.first {
            message = "Add \(changes.images.count) images for \"\(first.generation.prompt.prefix(60))\"\n\n"
            message += lines.map { "- \($0)\n" }.joined()
        } else {
            message = "Record \(changes.count) changes: \(changes.images.count) images, \(changes.votes.count) votes\n\n"
            message += lines.map { "- \($0)\n" }.joined()
        }
        message += "\n"
        if !changes.images.isEmpty {
            message += "\(imagesTrailer) \(changes.images.map(\.image.id.rawValue).joined(separator: " "))\n"
        }
        if !changes.votes.isEmpty {
            message += "\(voteEventsTrailer) \(changes.votes.compactMap(\.event.id).map(String.init).joined(separator: " "))\n"
        }
        return message
    }

    /// The changes a commit message names in its trailers.
    static func parseTrailers(_ message: String) -> (images: [ImageID], voteEvents: [Int64]) {
        var images: [ImageID] = []
        var voteEvents: [Int64] = []
        for line in message.split(separator: "\n") {
            if line.hasPrefix(imagesTrailer) {
                images += line.dropFirst(imagesTrailer.count).split(separator: " ").compactMap { ImageID(validating: $0) }
            } else if line.hasPrefix(voteEventsTrailer) {
                voteEvents += line.dropFirst(voteEventsTrailer.count).split(separator: " ").compactMap { Int64($0) }
            }
        }
        return (images, voteEvents)
    }

    private static func describe(_ change: ImageChange) -> String {
        "Add image \(change.image.id) for \"\(change.generation.prompt.prefix(60))\""
    }

    private static func describe(_ change: VoteChange) -> String {
        let event = change.event
        switch (event.previousRating, event.rating) {
        case (nil, let rating?):
            return "\(rating.rawValue) image \(event.imageID) by rater \(event.rater)"
        case (let previous?, let rating?):
            return "Change to \(rating.rawValue) on image \(event.imageID) by rater \(event.rater) (was \(previous.rawValue))"
        case (let previous?, nil):
            return "Retract \(previous.rawValue) on image \(event.imageID) by rater \(event.rater)"
        case (nil, nil):
            return "No change on image \(event.imageID) by rater \(event.rater)"
        }
    }
}
