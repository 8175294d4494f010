import CoreMetrics
import DroverStore
import Foundation

/// What the committer reports about each commit:
/// - `drover_commit_duration_seconds`: writing the files and the commit, up to the branch moving;
/// - `drover_commit_lag_seconds`: from the oldest change in the commit being recorded in the
///   ledger (a vote applied, an image stored) to the commit — how far the dataset trails the votes;
/// - `drover_commit_changes`: changes per commit (1 when idle, more under group commit).
struct CommitMetrics: Sendable {
    private let duration: CoreMetrics.Timer
    private let lag: CoreMetrics.Timer
    private let changes: Recorder

    init(factory: any MetricsFactory) {
        duration = CoreMetrics.Timer(label: "drover_commit_duration_seconds", factory: factory)
        lag = CoreMetrics.Timer(label: "drover_commit_lag_seconds", factory: factory)
        changes = Recorder(label: "drover_commit_changes", factory: factory)
    }

    func committed(_ committed: PendingChanges, taking elapsed: Duration, at now: Date = Date()) {
        duration.recordNanoseconds(elapsed.nanoseconds)
        let recorded = committed.images.map(\.image.createdAt) + committed.votes.map(\.event.occurredAt)
        if let oldest = recorded.min() {
            lag.recordNanoseconds(Int64(max(0, now.timeIntervalSince(oldest)) * 1e9))
        }
        changes.record(committed.count)
    }
}
