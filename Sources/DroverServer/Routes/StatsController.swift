import DroverCore
import DroverStore
import Hummingbird

/// `GET /api/stats`: per model version, per rater, and inter-rater agreement, from the ledger's
/// active votes (what `drover stats` prints).
struct StatsController {
    let ledger: Ledger

    struct Statistics: ResponseEncodable {
        var statistics: DatasetStatistics
        func encode(to encoder: any Encoder) throws { try statistics.encode(to: encoder) }
    }

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/api/stats", use: stats)
    }

    @Sendable func stats(request: Request, context: DroverRequestContext) async throws -> Statistics {
        Statistics(statistics: try ledger.statistics())
    }
}
