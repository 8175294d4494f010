import HTTPTypes
import Hummingbird

/// Why a request got no images. The description is written for the requester (the web page or
/// Slack), and each case answers HTTP with its own status.
public enum GenerationError: Error, CustomStringConvertible, HTTPResponseError {
    /// Every generation slot is taken and the queue is full: 503, with `Retry-After`.
    case busy(inFlight: Int, queued: Int)
    /// No images within the timeout, waiting for a turn included: 504.
    case timedOut(after: Duration)
    /// The backend failed or answered something unusable: 502, with the backend's message.
    case generatorFailed(String)
    /// The request pinned a model version the models file does not name: 400.
    case unknownModelVersion(String, known: [String])

    public var description: String {
        switch self {
        case .busy(let inFlight, let queued):
            "busy: the image generator is at its limit (running: \(inFlight), waiting: \(queued)); try again in a minute"
        case .timedOut(let limit):
            "timed out: the image generator gave no images within \(Self.seconds(limit)); try again later"
        case .generatorFailed(let message):
            "the image generator failed: \(message)"
        case .unknownModelVersion(let name, let known):
            "there is no model version \"\(name)\" (there are: \(known.joined(separator: ", ")))"
        }
    }

    public var status: HTTPResponse.Status {
        switch self {
        case .busy: .serviceUnavailable
        case .timedOut: .gatewayTimeout
        case .generatorFailed: .badGateway
        case .unknownModelVersion: .badRequest
        }
    }

    /// `{"error": {"message": …}}` with the case's status.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let headers: HTTPFields = if case .busy = self { [.retryAfter: "60"] } else { [:] }
        return try HTTPError(status, headers: headers, message: description).response(from: request, context: context)
    }

    /// `120 s`, `0.5 s`.
    private static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
