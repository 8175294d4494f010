import DroverCore
import DroverStore

/// The changes that go into one commit: the oldest pending changes that belong together.
///
/// A revert's or an import's changes are committed on their own, under a subject that says why;
/// ordinary changes waiting together share a commit (group commit). Images come before votes,
/// and votes are taken only once every pending image is in the batch, since a vote may be on one.
struct CommitBatch {
    var changes: PendingChanges
    /// The revert or import the changes belong to, if any.
    var changeSet: ChangeSetRecord?

    /// The next batch out of `pending` (which the ledger lists images first, each kind oldest first).
    /// - Parameters:
    ///   - voteSets: the change set of each pending vote event that belongs to one.
    ///   - imageSets: the change set of each pending image that belongs to one.
    init(next pending: PendingChanges, voteSets: [Int64: ChangeSetRecord], imageSets: [ImageID: ChangeSetRecord]) {
        let first = pending.images.first.map { imageSets[$0.image.id] } ?? pending.votes.first.flatMap { voteSets[$0.event.id ?? -1] }
        let group = first?.id
        let images = pending.images.prefix { imageSets[$0.image.id]?.id == group }
        let votes = images.count < pending.images.count ? [] : pending.votes.prefix { voteSets[$0.event.id ?? -1]?.id == group }
        changes = PendingChanges(Array(images), Array(votes))
        changeSet = first
    }
}
