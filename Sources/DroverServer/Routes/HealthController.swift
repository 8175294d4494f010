import DroverDataset
import DroverOxen
import DroverStore
import Hummingbird

/// `GET /healthz`: liveness plus the readiness of the ledger, the dataset and each model version's generator.
struct HealthController {
    let inbox: Inbox
    let committer: Committer
    let generation: GenerationService
    /// `nil` without `DROVER_DATASET_REMOTE`.
    let pusher: DatasetPusher?
    /// `nil` without `DROVER_OXEN_REPO`.
    let oxen: OxenMirror?

    struct Health: ResponseEncodable {
        struct Ledger: Encodable {
            var ok: Bool
            var inboxDepth: Int?
            var error: String?
            enum CodingKeys: String, CodingKey {
                case ok, error
                case inboxDepth = "inbox_depth"
            }

            /// Every field is written, an absent one as `null`.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(ok, forKey: .ok)
                try container.encode(inboxDepth, forKey: .inboxDepth)
                try container.encode(error, forKey: .error)
            }
        }
        struct Dataset: Encodable {
            var ok: Bool
            /// The committer is loading the dataset (at start): commits wait; votes do not.
            var loading: Bool
            var lastCommit: String?
            var commits: Int
            var error: String?
            /// The background push to `DROVER_DATASET_REMOTE`; `null` when none is set. A failing
            /// push does not make Drover unready: votes and commits go on, and it is retried.
            var push: DatasetPusher.Status?
            /// The mirror to `DROVER_OXEN_REPO`; `null` when none is set. Like the push, it never
            /// makes Drover unready.
            var oxen: OxenMirror.Status?
            enum CodingKeys: String, CodingKey {
                case ok, loading, commits, error, push, oxen
                case lastCommit = "last_commit"
            }

            /// Every field is written, an absent one as `null`.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(ok, forKey: .ok)
                try container.encode(loading, forKey: .loading)
                try container.encode(lastCommit, forKey: .lastCommit)
                try container.encode(commits, forKey: .commits)
                try container.encode(error, forKey: .error)
                try container.encode(push, forKey: .push)
                try container.encode(oxen, forKey: .oxen)
            }
        }
        struct Generator: Encodable {
            /// One model version's backend and how its last generation went.
            struct Version: Encodable {
                var name: String
                var backend: String
                var model: String
                var weight: Double
                var ok: Bool
                var lastError: String?
                enum CodingKeys: String, CodingKey {
                    case name, backend, model, weight, ok
                    case lastError = "last_error"
                }

                /// Every field is written, an absent one as `null`.
                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(name, forKey: .name)
                    try container.encode(backend, forKey: .backend)
                    try container.encode(model, forKey: .model)
                    try container.encode(weight, forKey: .weight)
                    try container.encode(ok, forKey: .ok)
                    try container.encode(lastError, forKey: .lastError)
                }
            }
            var ok: Bool
            var inFlight: Int
            var queued: Int
            var versions: [Version]
            enum CodingKeys: String, CodingKey {
                case ok, queued, versions
                case inFlight = "in_flight"
            }
        }
        var status: String
        var ledger: Ledger
        var dataset: Dataset
        var generator: Generator
    }

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/healthz", use: health)
    }

    @Sendable func health(request: Request, context: DroverRequestContext) async throws -> EditedResponse<Health> {
        let ledger: Health.Ledger
        do {
            ledger = .init(ok: true, inboxDepth: try inbox.depth(), error: nil)
        } catch {
            ledger = .init(ok: false, inboxDepth: nil, error: "\(error)")
        }
        let status = committer.status
        let dataset = Health.Dataset(
            ok: status.lastError == nil, loading: status.loading, lastCommit: status.lastCommit, commits: status.commits, error: status.lastError, push: pusher?.status,
            oxen: oxen?.status
        )
        let state = generation.state
        let generator = Health.Generator(
            ok: state.ok, inFlight: state.inFlight, queued: state.queued,
            versions: state.versions.map {
                .init(name: $0.name, backend: $0.backend, model: $0.model, weight: $0.weight, ok: $0.lastError == nil, lastError: $0.lastError)
            }
        )
        // A failing generator degrades Drover but does not make it unready: votes and the page still
        // work, and the next generation that succeeds clears the failure.
        let ready = ledger.ok && dataset.ok
        return EditedResponse(
            status: ready ? .ok : .serviceUnavailable,
            response: Health(status: ready && generator.ok ? "ok" : "degraded", ledger: ledger, dataset: dataset, generator: generator)
        )
    }
}
