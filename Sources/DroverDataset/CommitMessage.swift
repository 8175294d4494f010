import DroverCore
import DroverStore

/// The message of a dataset commit: a subject a person can read in `git log --oneline`, one
/// line per change when there are several, and trailers naming every change so that the ledger
/// can be reconciled with the repository after a crash.
enum CommitMessage {
    static let imagesTrailer = "Drover-Images:"
    static let voteEventsTrailer = "Drover-Vote-Events:"

    /// - Parameter changeSet: the revert or import that all of `changes` belong to, if any: its
    ///   subject says why.
    static func make(for changes: PendingChanges, changeSet: ChangeSetRecord? = nil) -> String {
        let lines = changes.images.map(describe) + changes.votes.map(describe)
        let generations = Set(changes.images.map(\.generation.id))
        var message: String
        if let changeSet {
            message = subject(of: changeSet, changes) + "\n\n"
            message += lines.map { "- \($0)\n" }.joined()
        } else if lines.count == 1 {
            message = lines[0] + "\n"
        } else if changes.votes.isEmpty, generations.count == 1, let first = changes.images.first {
            message = "Add \(changes.images.count) images for \"\(oneLine(first.generation.prompt).prefix(60))\"\n\n"
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

    /// The message of a commit that makes the rows agree with the ledger again.
    static func repair(_ lines: [String]) -> String {
        "Reconcile the rows with the ledger: \(lines.count) row\(lines.count == 1 ? "" : "s")\n\n" + lines.map { "- \(oneLine($0))\n" }.joined()
    }

    /// The changes a commit message names in its trailers: the lines of its last paragraph
    /// (lines above it may quote prompts, which are anybody's text).
    static func parseTrailers(_ message: String) -> (images: [ImageID], voteEvents: [Int64]) {
        var images: [ImageID] = []
        var voteEvents: [Int64] = []
        let paragraphs = message.split(separator: "\n\n", omittingEmptySubsequences: true)
        for line in (paragraphs.last ?? "").split(separator: "\n") {
            if line.hasPrefix(imagesTrailer) {
                images += line.dropFirst(imagesTrailer.count).split(separator: " ").compactMap { ImageID(validating: $0) }
            } else if line.hasPrefix(voteEventsTrailer) {
                voteEvents += line.dropFirst(voteEventsTrailer.count).split(separator: " ").compactMap { Int64($0) }
            }
        }
        return (images, voteEvents)
    }

    /// `Revert 12 votes by rater ab12cd34ef56: <reason>`, `Import 3 images and 40 votes from other.csv`.
    private static func subject(of changeSet: ChangeSetRecord, _ changes: PendingChanges) -> String {
        switch changeSet.kind {
        case .revert:
            return "Revert \(counted(changes.votes.count, "vote")) \(oneLine(changeSet.scope)): \(oneLine(changeSet.reason ?? "").prefix(200))"
        case .import:
            let parts = [(changes.images.count, "image"), (changes.votes.count, "vote")].filter { $0.0 > 0 }.map { counted($0.0, $0.1) }
            return "Import \(parts.joined(separator: " and ")) from \(oneLine(changeSet.scope))"
        }
    }

    /// `text` as one line of a commit message: line breaks, NUL and other control characters
    /// (which git refuses, or which would start a line that reads as a trailer) become spaces.
    static func oneLine(_ text: some StringProtocol) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: " "
            default: scalar
            }
        }))
    }

    private static func describe(_ change: ImageChange) -> String {
        "Add image \(change.image.id) for \"\(oneLine(change.generation.prompt).prefix(60))\""
    }

    private static func describe(_ change: VoteChange) -> String {
        let event = change.event
        switch (event.previousRating, event.rating) {
        case (nil, let rating?):
            return "\(rating.rawValue) image \(event.imageID) by rater \(oneLine(event.rater))"
        case (let previous?, let rating?):
            return "Change to \(rating.rawValue) on image \(event.imageID) by rater \(oneLine(event.rater)) (was \(previous.rawValue))"
        case (let previous?, nil):
            return "Retract \(previous.rawValue) on image \(event.imageID) by rater \(oneLine(event.rater))"
        case (nil, nil):
            return "No change on image \(event.imageID) by rater \(oneLine(event.rater))"
        }
    }
}
