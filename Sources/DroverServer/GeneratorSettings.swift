import Foundation

/// Which image generator backs `/ox` and the web page, where it is, and how much Drover asks of it
/// at once. The API key is kept out of every description.
public struct GeneratorSettings: Sendable, CustomStringConvertible {
    /// The backend, `DROVER_GENERATOR`.
    public enum Backend: Sendable {
        /// The embedded painter: no GPU, no network.
        case procedural
        /// A server speaking the OpenAI Images API, such as the bundled worker.
        case openai(Endpoint)
        /// The AUTOMATIC1111 web UI's API.
        case automatic1111(Endpoint)
    }

    /// Where a remote backend is and how to call it.
    public struct Endpoint: Sendable, CustomStringConvertible {
        /// `DROVER_GENERATOR_URL`: the backend's base address.
        public var url: String
        /// `DROVER_GENERATOR_MODEL`: the model to ask for, if any.
        public var model: String?
        /// `DROVER_GENERATOR_API_KEY`: a bearer key, if any; never logged.
        public var apiKey: String?

        public var description: String { "model: \(model ?? "default"), key: \(apiKey == nil ? "none" : "set")" }
    }

    public var backend: Backend
    /// `DROVER_GENERATOR_TIMEOUT_S`: how long a request may wait for a turn and its images together.
    public var timeout: Duration
    /// `DROVER_GENERATOR_CONCURRENCY`: how many generations run at once.
    public var concurrency: Int
    /// `DROVER_GENERATOR_QUEUE`: how many more may wait for a turn; past that a request is refused.
    public var queueLimit: Int

    /// The names `DROVER_GENERATOR` takes.
    private enum Kind: String, CaseIterable {
        case procedural, openai, automatic1111
    }

    /// Reads the generator settings.
    /// - Throws: ``ConfigurationError`` naming the first bad setting; it never holds the key.
    init(_ value: (String) -> String?) throws(ConfigurationError) {
        let kindText = value("DROVER_GENERATOR") ?? Kind.procedural.rawValue
        guard let kind = Kind(rawValue: kindText) else {
            let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError("DROVER_GENERATOR \"\(kindText)\" is not one this build has (\(known))")
        }
        switch kind {
        case .procedural: backend = .procedural
        case .openai: backend = .openai(try Self.endpoint(value, for: kind))
        case .automatic1111: backend = .automatic1111(try Self.endpoint(value, for: kind))
        }
        let timeoutText = value("DROVER_GENERATOR_TIMEOUT_S") ?? "120"
        guard let seconds = Double(timeoutText), seconds > 0, seconds <= 86_400 else {
            throw ConfigurationError("DROVER_GENERATOR_TIMEOUT_S must be a number of seconds above 0 (at most a day)")
        }
        timeout = .seconds(seconds)
        concurrency = try Self.count(value, "DROVER_GENERATOR_CONCURRENCY", default: 2, minimum: 1)
        queueLimit = try Self.count(value, "DROVER_GENERATOR_QUEUE", default: 16, minimum: 0)
    }

    private static func endpoint(_ value: (String) -> String?, for kind: Kind) throws(ConfigurationError) -> Endpoint {
        guard let url = value("DROVER_GENERATOR_URL") else {
            throw ConfigurationError("DROVER_GENERATOR=\(kind.rawValue) needs DROVER_GENERATOR_URL, the backend's address (like http://127.0.0.1:7861)")
        }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme), parsed.host?.isEmpty == false else {
            throw ConfigurationError("DROVER_GENERATOR_URL must be an http:// or https:// address")
        }
        return Endpoint(url: url, model: value("DROVER_GENERATOR_MODEL"), apiKey: value("DROVER_GENERATOR_API_KEY"))
    }

    private static func count(_ value: (String) -> String?, _ key: String, default defaultValue: Int, minimum: Int) throws(ConfigurationError) -> Int {
        guard let text = value(key) else { return defaultValue }
        guard let count = Int(text), count >= minimum, count <= 10_000 else {
            throw ConfigurationError("\(key) must be a whole number from \(minimum) to 10000")
        }
        return count
    }

    public var description: String {
        let backendDescription = switch backend {
        case .procedural: "procedural"
        case .openai(let endpoint): "openai(\(endpoint))"
        case .automatic1111(let endpoint): "automatic1111(\(endpoint))"
        }
        return "GeneratorSettings(backend: \(backendDescription), timeout: \(timeout), concurrency: \(concurrency), queue: \(queueLimit))"
    }
}
