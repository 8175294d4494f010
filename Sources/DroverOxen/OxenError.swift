/// A request to Oxen that did not succeed. Its description names the route and the answer, never
/// the token (which only ever travels in a header).
public struct OxenError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as far as the mirror's choices go.
    public enum Kind: Sendable, Equatable {
        /// 401 or 403: the token was refused. Mirroring stops.
        case unauthorized
        /// 404: the repository (or the branch of a non-empty one) does not exist. Mirroring stops.
        case notFound
        /// 409: the workspace is behind the branch; retried from a fresh workspace.
        case conflict
        /// 429: retried after `Retry-After`.
        case rateLimited
        /// 5xx: retried.
        case server
        /// No complete answer before the request's deadline: retried.
        case timeout
        /// The connection failed: retried.
        case transport
        /// An answer that is not what Oxen's API promises (or larger than the limit): retried.
        case badResponse
        /// Another 4xx: retried with backoff, and reported.
        case rejected
    }

    public var kind: Kind
    /// The HTTP status, when an answer came.
    public var status: Int?
    /// `METHOD /path` of the request.
    public var request: String
    /// Oxen's own message, shortened.
    public var message: String
    /// How long the server asked to wait (429).
    public var retryAfter: Duration?

    /// A 401 or 404: retrying cannot help until someone changes the setup.
    public var stopsMirroring: Bool { kind == .unauthorized || kind == .notFound }

    public var description: String {
        let answer = status.map { "\($0) " } ?? ""
        let text = "\(request): \(answer)\(message)"
        return switch kind {
        case .unauthorized: "\(text) — the Oxen token was refused: check DROVER_OXEN_TOKEN (or auth_config.toml) for this host"
        case .notFound: "\(text) — the Oxen repository or branch does not exist: create it (see docs/operations.md) or check DROVER_OXEN_REPO"
        default: text
        }
    }

    static func kind(forStatus status: Int) -> Kind {
        switch status {
        case 401, 403: .unauthorized
        case 404: .notFound
        case 409: .conflict
        case 429: .rateLimited
        case 500...599: .server
        default: .rejected
        }
    }
}
