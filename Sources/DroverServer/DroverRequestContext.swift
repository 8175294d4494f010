import Hummingbird

/// The request context of every route: request bodies are small, so anything larger is refused
/// with 413 before it is read.
public struct DroverRequestContext: RequestContext {
    /// The most bytes any request body may have.
    public static let maxBodySize = 64 << 10

    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { Self.maxBodySize }
}
