import DroverCore
import DroverStore
import Hummingbird

/// `GET /api/stats`: per model version, per rater, and inter-rater agreement, from the ledger's
/// active votes (what `drover stats` prints); `GET /api/compare?a=&b=`: which of two model
/// versions raters prefer, and how sure that is (what `drover compare` prints), from blindly
/// assigned images unless `blinded=false`.
struct StatsController {
    let ledger: Ledger

    struct Statistics: ResponseEncodable {
        var statistics: DatasetStatistics
        func encode(to encoder: any Encoder) throws { try statistics.encode(to: encoder) }
    }

    struct Comparison: ResponseEncodable {
        var comparison: VersionComparison
        func encode(to encoder: any Encoder) throws { try comparison.encode(to: encoder) }
    }

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/api/stats", use: stats)
        router.get("/api/compare", use: compare)
    }

    @Sendable func stats(request: Request, context: DroverRequestContext) async throws -> Statistics {
        Statistics(statistics: try ledger.statistics())
    }

    @Sendable func compare(request: Request, context: DroverRequestContext) async throws -> Comparison {
        let query = request.uri.queryParameters
        guard let a = query["a"].map(String.init), let b = query["b"].map(String.init), !a.isEmpty, !b.isEmpty, a != b else {
            throw HTTPError(.badRequest, message: "give two different model versions: /api/compare?a=<version>&b=<version>")
        }
        guard a.utf8.count <= 200, b.utf8.count <= 200 else { throw HTTPError(.badRequest, message: "a model version is at most 200 bytes") }
        var difference = 0.10
        if let text = query["difference"] {
            guard let value = Double(String(text)), value > 0, value < 1 else {
                throw HTTPError(.badRequest, message: "difference is a share between 0 and 1, e.g. 0.1 for 10 points")
            }
            difference = value
        }
        var blindedOnly = true
        if let text = query["blinded"] {
            guard let value = Bool(String(text)) else { throw HTTPError(.badRequest, message: "blinded is true (the default) or false") }
            blindedOnly = value
        }
        return Comparison(comparison: try ledger.comparison(of: a, and: b, detectableDifference: difference, blindedOnly: blindedOnly))
    }
}
