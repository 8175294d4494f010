import DroverCore
import DroverStore

/// The rows of `annotations/train.csv`: one per active vote, in the order the votes were last set.
///
/// Built by replaying vote events, so it always matches exactly the events the dataset holds.
struct TrainingTable {
    private struct Key: Hashable {
        var image: ImageID
        var rater: String
    }

    private var rows: [Key: (order: Int64, row: TrainingRow)] = [:]

    var count: Int { rows.count }

    /// Applies one vote event: a rating sets the rater's row for that image, a retraction removes it.
    mutating func apply(_ change: VoteChange) {
        let event = change.event
        let key = Key(image: event.imageID, rater: event.rater)
        guard let rating = event.rating, let order = event.id else {
            rows[key] = nil
            return
        }
        rows[key] = (order, TrainingRow(
            prompt: change.prompt, image: event.imageID, rating: rating, rater: event.rater,
            modelVersion: change.modelVersion, votedAt: Timestamp.iso8601(event.occurredAt), source: event.source
        ))
    }

    /// The whole CSV document, header first.
    func csv() -> String {
        CSV.document(header: TrainingRow.columns, rows: rows.values.sorted { $0.order < $1.order }.lazy.map(\.row.fields))
    }
}
