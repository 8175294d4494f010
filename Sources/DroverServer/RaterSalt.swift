import DroverCore
import Foundation

/// The key for rater pseudonyms: `DROVER_RATER_SALT` if set, otherwise 32 random bytes
/// generated once and kept, readable by the owner only, in the data directory.
enum RaterSalt {
    static func load(configured: String?, dataDirectory: String) throws -> [UInt8] {
        if let configured { return Array(configured.utf8) }
        let path = dataDirectory + "/rater-salt"
        if let stored = FileManager.default.contents(atPath: path), let salt = Hex.decode(String(decoding: stored, as: UTF8.self).trimmingWhitespace()) {
            return salt
        }
        let salt = (0..<32).map { _ in UInt8.random(in: 0...255) }
        guard FileManager.default.createFile(atPath: path, contents: Data((Hex.encode(salt) + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write the rater salt to \(path)")
        }
        return salt
    }
}
