import DroverCore
import FoundationEssentials

/// Where the dataset is mirrored on Oxen (`DROVER_OXEN_*`), and the token that may write there.
public struct OxenSettings: Sendable {
    /// The repository's namespace (a user or an organisation on OxenHub).
    public var namespace: String
    /// The repository's name.
    public var name: String
    /// `host[:port]`, as in the URL and in Oxen's `auth_config.toml`.
    public var host: String
    /// `https` or `http`.
    public var scheme: String
    /// The branch the mirror commits to.
    public var branch: String
    /// The bearer token; it never appears in a description.
    public var token: OxenToken

    /// `namespace/name`.
    public var repository: String { "\(namespace)/\(name)" }
    /// What the ledger's mirror records are kept under: `host/namespace/name#branch`.
    public var target: String { "\(host)/\(repository)#\(branch)" }
    /// `scheme://host`.
    public var baseURL: String { "\(scheme)://\(host)" }

    public init(namespace: String, name: String, host: String = "hub.oxen.ai", scheme: String = "https", branch: String = "main", token: OxenToken) {
        self.namespace = namespace
        self.name = name
        self.host = host
        self.scheme = scheme
        self.branch = branch
        self.token = token
    }

    /// Reads the settings; `nil` when `DROVER_OXEN_REPO` is not set.
    /// - Parameter value: a setting by name (`DROVER_OXEN_*`, `OXEN_CONFIG_DIR`, `HOME`), `nil` when unset.
    /// - Throws: ``OxenSettingsError`` naming the bad setting; never with the token in it.
    public static func read(_ value: (String) -> String?) throws(OxenSettingsError) -> OxenSettings? {
        guard let repository = value("DROVER_OXEN_REPO") else { return nil }
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        let namePattern = #/[A-Za-z0-9][A-Za-z0-9_.\-]*/#
        guard parts.count == 2, parts.allSatisfy({ (try? namePattern.wholeMatch(in: $0)) != nil }) else {
            throw OxenSettingsError("DROVER_OXEN_REPO must be namespace/name (letters, digits, _ . -), not \"\(repository)\"")
        }
        let host = value("DROVER_OXEN_HOST") ?? "hub.oxen.ai"
        guard !host.isEmpty, !host.contains("/"), !host.contains("@"), !host.contains(where: \.isWhitespace) else {
            throw OxenSettingsError("DROVER_OXEN_HOST must be host or host:port, not \"\(host)\"")
        }
        let scheme = value("DROVER_OXEN_SCHEME") ?? "https"
        guard scheme == "https" || scheme == "http" else {
            throw OxenSettingsError("DROVER_OXEN_SCHEME must be https or http, not \"\(scheme)\"")
        }
        let branch = value("DROVER_OXEN_BRANCH") ?? "main"
        guard !branch.hasPrefix("/"), !branch.hasSuffix("/"), !branch.contains(".."), !branch.contains(where: { $0.isWhitespace || $0 == "?" || $0 == "#" }) else {
            throw OxenSettingsError("DROVER_OXEN_BRANCH is not a branch name: \"\(branch)\"")
        }
        let token: OxenToken
        if let configured = value("DROVER_OXEN_TOKEN") {
            token = OxenToken(configured)
        } else {
            let directory = value("OXEN_CONFIG_DIR") ?? ((value("HOME") ?? "~") + "/.config/oxen")
            let path = directory + "/auth_config.toml"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw OxenSettingsError("DROVER_OXEN_REPO is set but no token is: set DROVER_OXEN_TOKEN, or run `oxen config --auth \(host) <token>` (it writes \(path))")
            }
            let hosts: [OxenAuthConfig.HostConfig]
            do {
                hosts = try OxenAuthConfig.parse(text)
            } catch {
                throw OxenSettingsError("\(path): \(error.description)")
            }
            guard let found = hosts.last(where: { $0.host == host }) else {
                throw OxenSettingsError("\(path) has no auth_token for host \"\(host)\": set DROVER_OXEN_TOKEN, or run `oxen config --auth \(host) <token>`")
            }
            token = OxenToken(found.authToken)
        }
        return OxenSettings(namespace: String(parts[0]), name: String(parts[1]), host: host, scheme: scheme, branch: branch, token: token)
    }
}

/// An Oxen API token. Its description is a placeholder, so that interpolating it into a log line
/// or an error cannot leak it.
public struct OxenToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<oxen token>" }
    public var debugDescription: String { description }
}

/// A `DROVER_OXEN_*` setting that cannot be used; the message never holds the token.
public struct OxenSettingsError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
