import Crypto
import DroverCore
import FoundationEssentials

/// Verifies that a request came from Slack: `X-Slack-Signature` must be `v0=` + hex
/// HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`), compared in constant time, and
/// `X-Slack-Request-Timestamp` within five minutes of now, either way.
public struct SlackSignature: Sendable {
    /// How far a request's timestamp may be from now.
    public static let tolerance: TimeInterval = 300

    /// The signing secret as an HMAC key, made once. (`SymmetricKey` is not marked `Sendable`;
    /// this one is never mutated, so sharing it is safe.)
    nonisolated(unsafe) private let key: SymmetricKey

    /// - Parameter signingSecret: the app's signing secret; never logged.
    public init(signingSecret: String) {
        key = SymmetricKey(data: Array(signingSecret.utf8))
    }

    /// Checks a request's signature over its raw body bytes, before anything parses them.
    /// - Throws: ``SlackSignatureError`` saying what is wrong (the message holds no secret).
    public func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, now: Date = Date()) throws(SlackSignatureError) {
        guard let timestamp, let signature else { throw .missing }
        guard let seconds = Int64(timestamp) else { throw .malformed }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= Self.tolerance else { throw .stale }
        guard signature.hasPrefix("v0="), let mac = Hex.decode(signature.dropFirst(3)), mac.count == SHA256.byteCount else { throw .malformed }
        // Compared in constant time by swift-crypto.
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(body: body, timestamp: timestamp), using: key) else {
            throw .mismatch
        }
    }

    /// The signature Slack would send for `body` at `timestamp`: for tests and tools.
    public func sign(body: some Collection<UInt8>, timestamp: String) -> String {
        "v0=" + Hex.encode(HMAC<SHA256>.authenticationCode(for: Self.message(body: body, timestamp: timestamp), using: key))
    }

    /// What Slack signs: `v0:<timestamp>:<body>`.
    private static func message(body: some Collection<UInt8>, timestamp: String) -> [UInt8] {
        Array("v0:\(timestamp):".utf8) + body
    }
}

/// Why a request's signature was refused.
public enum SlackSignatureError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case malformed
    case stale
    case mismatch

    public var description: String {
        switch self {
        case .missing: "missing X-Slack-Signature or X-Slack-Request-Timestamp"
        case .malformed: "malformed Slack signature headers"
        case .stale: "the request timestamp is more than 5 minutes from now"
        case .mismatch: "the Slack signature does not match"
        }
    }
}
