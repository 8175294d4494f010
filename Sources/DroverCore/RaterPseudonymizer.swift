import Crypto

/// Turns a platform user into the pseudonym that stands for them in the dataset.
///
/// The default is keyed: HMAC-SHA256 with the deployment's salt over `team:user`, first 12 hex
/// digits, so pseudonyms cannot be reversed by hashing known user ids. The seed tutorial's
/// unsalted `sha256(user)[:6]` is available for compatibility, never by default.
public struct RaterPseudonymizer: Sendable {
    /// How pseudonyms are derived.
    public enum Scheme: String, Sendable, CaseIterable {
        /// HMAC-SHA256(salt, "team:user"), first 12 hex digits.
        case hmacSHA256 = "hmac-sha256"
        /// The seed tutorial's unsalted SHA-256 of the user id, first 6 hex digits.
        case sha256Prefix6 = "sha256-6"
    }

    private let salt: [UInt8]
    /// The scheme in use.
    public let scheme: Scheme

    /// - Parameters:
    ///   - salt: the secret key for ``Scheme/hmacSHA256``; never logged.
    ///   - scheme: how pseudonyms are derived.
    public init(salt: [UInt8], scheme: Scheme = .hmacSHA256) {
        self.salt = salt
        self.scheme = scheme
    }

    /// The pseudonym of `user` in `team` (for the web page, the team is `web`).
    public func pseudonym(team: String, user: String) -> String {
        switch scheme {
        case .hmacSHA256:
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(team):\(user)".utf8), using: SymmetricKey(data: salt))
            return String(Hex.encode(mac).prefix(12))
        case .sha256Prefix6:
            return String(Hex.encode(SHA256.hash(data: Array(user.utf8))).prefix(6))
        }
    }
}
