import DroverDataset
import DroverStore
import Hummingbird

/// Counts and times every request by the route it matched (`unmatched` otherwise) and its status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: DroverMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(route: context.endpointPath ?? "unmatched", status: Int(response.status.code), duration: .now - started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(route: context.endpointPath ?? "unmatched", status: Int(status), duration: .now - started)
            throw error
        }
    }
}

/// `GET /metrics` in Prometheus text format.
struct MetricsController {
    let metrics: DroverMetrics
    let inbox: DroverStore.Inbox
    let committer: DroverDataset.Committer

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/metrics") { _, _ in
            metrics.observe(inboxDepth: (try? inbox.depth()) ?? -1, commits: committer.status.commits)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render()))
            )
        }
    }
}
