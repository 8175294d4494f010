import DroverSlack
import HTTPTypes
import Hummingbird

/// Verifies Slack's signature over the raw body of every `/slack/...` request before anything
/// parses it; a missing, malformed, stale or wrong signature is a 401 and nothing is read further.
struct SlackSignatureMiddleware<Context: RequestContext>: RouterMiddleware {
    let signature: SlackSignature

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        do throws(SlackSignatureError) {
            try signature.verify(
                body: body.readableBytesView,
                timestamp: request.headers[.slackRequestTimestamp],
                signature: request.headers[.slackSignature]
            )
        } catch {
            context.logger.notice("refused a Slack request", metadata: ["reason": "\(error)"])
            throw HTTPError(.unauthorized, message: error.description)
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let slackRequestTimestamp = Self("X-Slack-Request-Timestamp")!
    static let slackSignature = Self("X-Slack-Signature")!
}
