import DroverSlack
import HTTPTypes
import Hummingbird
import Logging

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
                timestamp: request.headers.only(.slackRequestTimestamp),
                signature: request.headers.only(.slackSignature)
            )
        } catch {
            context.logger.notice("refused a Slack request", metadata: ["reason": "\(error)"])
            throw HTTPError(.unauthorized, message: error.description)
        }
        return try await next(request, context)
    }
}

extension HTTPFields {
    /// The value of the one field named `name`; `nil` if there is none, or more than one (a
    /// repeated signature header is no signature). Cheaper than the subscript, which joins the
    /// values of every field of that name.
    func only(_ name: HTTPField.Name) -> String? {
        var value: String?
        for field in self where field.name == name {
            guard value == nil else { return nil }
            value = field.value
        }
        return value
    }
}

extension HTTPField.Name {
    static let slackRequestTimestamp = Self("X-Slack-Request-Timestamp")!
    static let slackSignature = Self("X-Slack-Signature")!
}
