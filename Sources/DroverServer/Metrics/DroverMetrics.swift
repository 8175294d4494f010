import CoreMetrics
import DroverCore
import DroverStore
import Prometheus
import Synchronization

/// The metrics of one Drover server, kept in its own Prometheus registry (no global state, so
/// several servers in one process — tests — never mix their numbers).
struct DroverMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Handed to the parts that record metrics (Slack client, …).
    let factory: PrometheusMetricsFactory
    private let requestMeters = RequestMeters()

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                .milliseconds(500), .seconds(1), .seconds(3)]
        let slow: [Duration] = [.milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120)]
        factory.durationHistogramBuckets = [
            "drover_http_request_duration_seconds": fast,
            "drover_commit_duration_seconds": fast + [.seconds(5), .seconds(10)],
            "drover_commit_lag_seconds": fast + [.seconds(5), .seconds(10), .seconds(30), .seconds(60)],
            "drover_generation_duration_seconds": slow,
        ]
        factory.valueHistogramBuckets = ["drover_commit_changes": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000]]
        self.factory = factory
    }

    /// A request answered: counted by route and status, timed by route. For Slack routes the
    /// time is the acknowledgement latency.
    func request(route: String, status: Int, duration: Duration) {
        let (counter, timer) = requestMeters.meters(route: route, status: status) {
            (
                Counter(label: "drover_http_requests_total", dimensions: [("route", route), ("status", "\(status)")], factory: factory),
                Timer(label: "drover_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            )
        }
        counter.increment()
        timer.recordInterval(duration)
    }

    /// A vote event applied to the ledger.
    func vote(source: VoteSource) {
        Counter(label: "drover_votes_total", dimensions: [("source", source.rawValue)], factory: factory).increment()
    }

    /// A generation finished (or failed) after `duration`.
    func generation(backend: String, succeeded: Bool, duration: Duration) {
        Timer(label: "drover_generation_duration_seconds", dimensions: [("backend", backend), ("outcome", succeeded ? "ok" : "error")], factory: factory)
            .recordInterval(duration)
    }

    /// Images made by a model version, by how it was assigned: the A/B split as it happens.
    func images(modelVersion: String, assignment: Assignment, count: Int) {
        Counter(
            label: "drover_images_generated_total", dimensions: [("model_version", modelVersion), ("assignment", assignment.rawValue)],
            factory: factory
        ).increment(by: count)
    }

    /// Values read at scrape time: inbox depth and the committer's totals.
    func observe(inboxDepth: Int, commits: Int) {
        Gauge(label: "drover_inbox_depth", factory: factory).record(inboxDepth)
        Gauge(label: "drover_dataset_commits", factory: factory).record(commits)
    }

    /// The Prometheus text exposition.
    func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// The request counter and timer of each route and status, made once: the registry checks the
/// names and takes its lock each time one is made, which every request would pay.
private final class RequestMeters: Sendable {
    private struct Key: Hashable {
        var route: String
        var status: Int
    }

    private let made = Mutex<[Key: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    func meters(
        route: String, status: Int, make: () -> (CoreMetrics.Counter, CoreMetrics.Timer)
    ) -> (CoreMetrics.Counter, CoreMetrics.Timer) {
        made.withLock { made in
            let key = Key(route: route, status: status)
            if let meters = made[key] { return meters }
            let meters = make()
            made[key] = meters
            return meters
        }
    }
}

extension Timer {
    func recordInterval(_ duration: Duration) {
        recordNanoseconds(duration.nanoseconds)
    }
}
