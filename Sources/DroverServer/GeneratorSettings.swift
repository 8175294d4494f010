import Foundation

/// Which model versions back `/ox` and the web page, where their backends are, and how much Drover
/// asks of them at once. API keys are kept out of every description.
///
/// The versions come from the models file (`DROVER_MODELS`, else `$DROVER_DATA_DIR/models.toml`
/// when it exists); without one, from `DROVER_GENERATOR*` and `DROVER_MODEL_VERSION` as a single
/// version, as before there were versions.
public struct GeneratorSettings: Sendable, CustomStringConvertible {
    /// A version's backend (`DROVER_GENERATOR`, or `backend` in the models file).
    public enum Backend: Sendable, CustomStringConvertible {
        /// The embedded painter: no GPU, no network.
        case procedural
        /// A server speaking the OpenAI Images API, such as the bundled worker.
        case openai(Endpoint)
        /// The AUTOMATIC1111 web UI's API.
        case automatic1111(Endpoint)

        public var description: String {
            switch self {
            case .procedural: "procedural"
            case .openai(let endpoint): "openai(\(endpoint))"
            case .automatic1111(let endpoint): "automatic1111(\(endpoint))"
            }
        }
    }

    /// Where a remote backend is and how to call it.
    public struct Endpoint: Sendable, CustomStringConvertible {
        /// The backend's base address.
        public var url: String
        /// The model to ask for, if any.
        public var model: String?
        /// A bearer key, if any; never logged.
        public var apiKey: String?

        public init(url: String, model: String?, apiKey: String?) {
            self.url = url
            self.model = model
            self.apiKey = apiKey
        }

        public var description: String { "model: \(model ?? "default"), key: \(apiKey == nil ? "none" : "set")" }
    }

    /// The versions, in the models file's order; at least one has a weight above 0.
    public var versions: [ModelVersion]
    /// The models file they were read from; `nil` when they come from the environment.
    public var modelsFile: String?
    /// `DROVER_GENERATOR_TIMEOUT_S`: how long a request may wait for a turn and its images together.
    public var timeout: Duration
    /// `DROVER_GENERATOR_CONCURRENCY`: how many generations run at once.
    public var concurrency: Int
    /// `DROVER_GENERATOR_QUEUE`: how many more may wait for a turn; past that a request is refused.
    public var queueLimit: Int

    /// The names a backend goes by.
    enum Kind: String, CaseIterable {
        case procedural, openai, automatic1111
    }

    /// Reads the generator settings, and the models file if there is one.
    /// - Parameter dataDirectory: where `models.toml` is looked for when `DROVER_MODELS` is unset.
    /// - Throws: ``ConfigurationError`` naming the first bad setting (in the models file: its line
    ///   or key); it never holds a key.
    init(_ value: (String) -> String?, dataDirectory: String) throws(ConfigurationError) {
        let defaultFile = dataDirectory + "/models.toml"
        if let path = value("DROVER_MODELS") ?? (FileManager.default.fileExists(atPath: defaultFile) ? defaultFile : nil) {
            versions = try ModelsFile.read(path, environment: value)
            modelsFile = path
        } else {
            let kindText = value("DROVER_GENERATOR") ?? Kind.procedural.rawValue
            let backend = try Self.backend(kindText, setting: "DROVER_GENERATOR") { key throws(ConfigurationError) in
                switch key {
                case .url: value("DROVER_GENERATOR_URL")
                case .model: value("DROVER_GENERATOR_MODEL")
                case .apiKey: value("DROVER_GENERATOR_API_KEY")
                }
            }
            versions = [ModelVersion(name: value("DROVER_MODEL_VERSION") ?? "0-1", backend: backend)]
            modelsFile = nil
        }
        let timeoutText = value("DROVER_GENERATOR_TIMEOUT_S") ?? "120"
        guard let seconds = Double(timeoutText), seconds > 0, seconds <= 86_400 else {
            throw ConfigurationError("DROVER_GENERATOR_TIMEOUT_S must be a number of seconds above 0 (at most a day)")
        }
        timeout = .seconds(seconds)
        concurrency = try Self.count(value, "DROVER_GENERATOR_CONCURRENCY", default: 2, minimum: 1)
        queueLimit = try Self.count(value, "DROVER_GENERATOR_QUEUE", default: 16, minimum: 0)
    }

    /// A setting of a remote backend, by the name the environment and the models file give it.
    enum EndpointSetting {
        case url, model, apiKey
        var environmentName: String {
            switch self {
            case .url: "DROVER_GENERATOR_URL"
            case .model: "DROVER_GENERATOR_MODEL"
            case .apiKey: "DROVER_GENERATOR_API_KEY"
            }
        }
    }

    /// The backend called `kindText`, with its endpoint's settings from `endpoint`.
    /// - Parameter setting: how the backend's name is set, for messages (`DROVER_GENERATOR`, or a
    ///   models file key such as `version[1].backend`); endpoint settings are named after it.
    static func backend(
        _ kindText: String, setting: String, endpoint: (EndpointSetting) throws(ConfigurationError) -> String?
    ) throws(ConfigurationError) -> Backend {
        guard let kind = Kind(rawValue: kindText) else {
            let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError("\(setting) \"\(kindText)\" is not one this build has (\(known))")
        }
        func remote() throws(ConfigurationError) -> Endpoint {
            let urlName = setting == "DROVER_GENERATOR" ? EndpointSetting.url.environmentName : setting.replacing("backend", with: "url")
            guard let url = try endpoint(.url) else {
                throw ConfigurationError("\(setting)=\(kind.rawValue) needs \(urlName), the backend's address (like http://127.0.0.1:7861)")
            }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme), parsed.host?.isEmpty == false else {
                throw ConfigurationError("\(urlName) must be an http:// or https:// address")
            }
            return Endpoint(url: url, model: try endpoint(.model), apiKey: try endpoint(.apiKey))
        }
        return switch kind {
        case .procedural: .procedural
        case .openai: .openai(try remote())
        case .automatic1111: .automatic1111(try remote())
        }
    }

    private static func count(_ value: (String) -> String?, _ key: String, default defaultValue: Int, minimum: Int) throws(ConfigurationError) -> Int {
        guard let text = value(key) else { return defaultValue }
        guard let count = Int(text), count >= minimum, count <= 10_000 else {
            throw ConfigurationError("\(key) must be a whole number from \(minimum) to 10000")
        }
        return count
    }

    public var description: String {
        "GeneratorSettings(versions: \(versions), timeout: \(timeout), concurrency: \(concurrency), queue: \(queueLimit))"
    }
}
