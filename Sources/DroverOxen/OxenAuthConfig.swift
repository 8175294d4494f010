/// Reads the tokens out of Oxen's own `auth_config.toml` (liboxen `config/auth_config.rs`):
///
/// ```toml
/// [[host_configs]]
/// host = "hub.oxen.ai"
/// auth_token = "…"
/// ```
///
/// No maintained TOML parser is among the package's dependencies, and this file's form is fixed
/// by the Oxen client that writes it, so this reads exactly that subset: comments, `[table]` and
/// `[[array-of-tables]]` headers, and `key = "basic"` or `key = 'literal'` strings. Any other
/// value (numbers, arrays, inline tables) is skipped; a malformed string is an error.
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

    /// The `[[host_configs]]` entries that have both a `host` and an `auth_token`, in file order.
    public static func parse(_ text: String) throws(ParseError) -> [HostConfig] {
        var configs: [HostConfig] = []
        var current: [String: String]?
        func flush() {
            if let current, let host = current["host"], let token = current["auth_token"] {
                configs.append(HostConfig(host: host, authToken: token))
            }
        }
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") || line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            if line.hasPrefix("[") {
                flush()
                let header = line.prefix { $0 != "#" }.trimmingCharacters(in: " \t\r")
                current = header.replacing(" ", with: "") == "[[host_configs]]" ? [:] : nil
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(description: "line \(number + 1): expected key = value")
            }
            let key = line[..<equals].trimmingCharacters(in: " \t").trimmingCharacters(in: "\"")
            let rest = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            guard let quote = rest.first, quote == "\"" || quote == "'" else { continue }  // not a string: not ours
            guard let value = string(rest, quote: quote) else {
                throw ParseError(description: "line \(number + 1): the string for \(key) is not closed")
            }
            current?[key] = value
        }
        flush()
        return configs
    }

    /// The string that `text` starts with (a basic string with escapes, or a literal one).
    private static func string(_ text: Substring, quote: Character) -> String? {
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == quote { return result }
            if character == "\\" && quote == "\"" {
                index = text.index(after: index)
                guard index < text.endIndex else { return nil }
                switch text[index] {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "\"": result.append("\"")
                case "\\": result.append("\\")
                case "u", "U":
                    let length = text[index] == "u" ? 4 : 8
                    let digits = text[text.index(after: index)...].prefix(length)
                    guard digits.count == length, let code = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(code) else { return nil }
                    result.unicodeScalars.append(scalar)
                    index = text.index(index, offsetBy: length)
                default: return nil
                }
            } else {
                result.append(character)
            }
            index = text.index(after: index)
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(self.drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
