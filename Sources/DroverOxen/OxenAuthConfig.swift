import TOMLKit

/// Reads the tokens out of Oxen's own `auth_config.toml` (liboxen `config/auth_config.rs`):
///
/// ```toml
/// [[host_configs]]
/// host = "hub.oxen.ai"
/// auth_token = "…"
/// ```
public enum OxenAuthConfig {
    /// One `[[host_configs]]` entry.
    public struct HostConfig: Sendable, Equatable {
        public var host: String
        public var authToken: String

        public init(host: String, authToken: String) {
            self.host = host
            self.authToken = authToken
        }
    }

    /// The file could not be read; the message names the line, never a token.
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The `[[host_configs]]` entries that have both a `host` and an `auth_token`, in file order;
    /// other keys and tables are Oxen's own and are ignored.
    public static func parse(_ text: String) throws(ParseError) -> [HostConfig] {
        struct File: Decodable {
            struct Entry: Decodable {
                var host: String?
                var authToken: String?
                enum CodingKeys: String, CodingKey {
                    case host
                    case authToken = "auth_token"
                }
            }
            var hostConfigs: [Entry]?
            enum CodingKeys: String, CodingKey {
                case hostConfigs = "host_configs"
            }
        }
        do {
            let file = try TOMLDecoder().decode(File.self, from: text)
            return (file.hostConfigs ?? []).compactMap { entry in
                guard let host = entry.host, let token = entry.authToken else { return nil }
                return HostConfig(host: host, authToken: token)
            }
        } catch let error as TOMLParseError {
            throw ParseError(description: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ParseError(description: "host_configs is not a list of tables of strings")
        }
    }
}
