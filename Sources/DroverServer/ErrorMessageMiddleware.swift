import Hummingbird
import NIOCore

/// Makes every error response say why: errors thrown without a message (an oversized body, an
/// unknown route) get one, so a client never sees a bare status.
struct ErrorMessageMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.body == nil {
            throw HTTPError(error.status, message: Self.message(for: error.status))
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: Self.message(for: .contentTooLarge))
        }
    }

    static func message(for status: HTTPResponse.Status) -> String {
        switch status {
        case .contentTooLarge: "the request body is larger than \(DroverRequestContext.maxBodySize / 1024) KiB"
        case .notFound: "no such route"
        default: status.reasonPhrase
        }
    }
}
