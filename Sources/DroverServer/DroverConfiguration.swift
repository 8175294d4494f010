import DroverCore
import DroverOxen
import Foundation

/// Drover's settings, read from the environment (names and defaults are a contract: docs/operations.md),
/// optionally under a `KEY=VALUE` file whose keys the environment overrides.
public struct DroverConfiguration: Sendable {
    public var dataDirectory: String
    public var host: String
    public var port: Int
    /// The image generator and its limits (`DROVER_GENERATOR*`).
    public var generator: GeneratorSettings
    public var modelVersion: String
    /// The rater-pseudonym key from `DROVER_RATER_SALT`; `nil` means the one kept in the data dir.
    public var raterSalt: String?
    public var raterScheme: RaterPseudonymizer.Scheme
    /// How long the committer waits after a change so that changes arriving together share a commit.
    public var commitGatherWindow: Duration
    /// The git URL the dataset is pushed to after commits (`DROVER_DATASET_REMOTE`); `nil`: no push.
    public var datasetRemote: String?
    /// The Oxen repository the dataset is mirrored to (`DROVER_OXEN_*`); `nil`: no mirror.
    public var oxen: OxenSettings?
    /// Slack over HTTP, when both `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` are set.
    public var slack: SlackSettings?
    /// Where people reach Drover's web page (`DROVER_PUBLIC_URL`), without a trailing slash: the
    /// dashboard links and image URLs in Slack messages start with it. `nil`: no links.
    public var publicURL: String?
    /// How long a connection may stay without a complete request head (idle between keep-alive
    /// requests, or sending a head that never ends) before it is closed (`DROVER_HTTP_IDLE_TIMEOUT_S`).
    public var idleTimeout: Duration
    /// How long a request may take from its head to the end of its body (`DROVER_HTTP_READ_TIMEOUT_S`).
    public var readTimeout: Duration

    /// The ledger file.
    public var ledgerPath: String { dataDirectory + "/drover.sqlite" }
    /// The dataset repository.
    public var datasetDirectory: String { dataDirectory + "/dataset" }

    /// Reads the settings.
    /// - Parameters:
    ///   - environment: usually the process environment.
    ///   - fileContents: the text of a config file of `KEY=VALUE` lines (`#` comments), if any.
    /// - Throws: ``ConfigurationError`` naming the first bad setting.
    public init(environment: [String: String], fileContents: String? = nil) throws(ConfigurationError) {
        let values = Self.parse(fileContents ?? "").merging(environment) { _, fromEnvironment in fromEnvironment }
        func value(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }

        dataDirectory = value("DROVER_DATA_DIR") ?? "./drover-data"
        host = value("DROVER_HOST") ?? "127.0.0.1"
        let portText = value("DROVER_PORT") ?? "8080"
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw ConfigurationError("DROVER_PORT must be a port number, not \"\(portText)\"")
        }
        self.port = port
        generator = try GeneratorSettings(value, dataDirectory: dataDirectory)
        modelVersion = value("DROVER_MODEL_VERSION") ?? "0-1"
        raterSalt = value("DROVER_RATER_SALT")
        let schemeText = value("DROVER_RATER_HASH") ?? RaterPseudonymizer.Scheme.hmacSHA256.rawValue
        guard let scheme = RaterPseudonymizer.Scheme(rawValue: schemeText) else {
            throw ConfigurationError("DROVER_RATER_HASH must be hmac-sha256 or sha256-6")
        }
        raterScheme = scheme
        let windowText = value("DROVER_COMMIT_WINDOW_MS") ?? "0"
        guard let window = Int(windowText), window >= 0 else {
            throw ConfigurationError("DROVER_COMMIT_WINDOW_MS must be a whole number of milliseconds")
        }
        commitGatherWindow = .milliseconds(window)
        datasetRemote = value("DROVER_DATASET_REMOTE")
        do {
            oxen = try OxenSettings.read(value)
        } catch {
            throw ConfigurationError(error.description)
        }
        slack = try SlackSettings(value)
        publicURL = try Self.publicURL(value("DROVER_PUBLIC_URL"))
        idleTimeout = try Self.seconds(value, "DROVER_HTTP_IDLE_TIMEOUT_S", default: 30)
        readTimeout = try Self.seconds(value, "DROVER_HTTP_READ_TIMEOUT_S", default: 10)
    }

    /// A positive number of seconds (fractions allowed), or `default` when unset.
    private static func seconds(_ value: (String) -> String?, _ key: String, default: Double) throws(ConfigurationError) -> Duration {
        let text = value(key) ?? "\(`default`)"
        guard let seconds = Double(text), seconds > 0, seconds <= 86_400 else {
            throw ConfigurationError("\(key) must be a number of seconds from 0 to 86400, not \"\(text)\"")
        }
        return .milliseconds(Int64(seconds * 1_000))
    }

    /// An absolute `http` or `https` URL with a host, its trailing slashes dropped.
    private static func publicURL(_ text: String?) throws(ConfigurationError) -> String? {
        guard let text else { return nil }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased()), url.host?.isEmpty == false,
              url.query == nil, url.fragment == nil
        else {
            throw ConfigurationError("DROVER_PUBLIC_URL must be an http or https address such as https://drover.example.com, not \"\(text)\"")
        }
        var trimmed = Substring(text)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    /// `KEY=VALUE` lines; blank lines and `#` comments are skipped, values may be quoted.
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingWhitespace()
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace()
            var value = line[line.index(after: equals)...].trimmingWhitespace()
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }
}

/// A setting that cannot be used; the message names it and never holds a secret's value.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
