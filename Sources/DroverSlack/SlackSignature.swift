import Crypto
import DroverCore
import FoundationEssentials

/// Verifies that a request came from Slack: `X-Slack-Signature` must be `v0=` + hex
/// HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`), compared in constant time, and
/// `X-Slack-Request-Timestamp` within five minutes of now, either way.
public struct SlackSignature: Sendable {
    /// How far a request's timestamp may be from now.
    public static let tolerance: TimeInterval = 300

    /// SHA-256 having absorbed the signing key's inner pad, and its outer pad (HMAC, RFC 2104):
    /// each request copies them instead of deriving the pads again. HMAC is built on `SHA256`
    /// itself because swift-crypto's `HMAC` is generic over its hash function, and its
    /// unspecialized calls cost more than the hashing (`benchmarks/ingest`). Not `Sendable` only
    /// because a digest's state is a copy-on-write reference; these are never mutated, so sharing
    /// them is safe.
    nonisolated(unsafe) private let inner: SHA256
    nonisolated(unsafe) private let outer: SHA256

    /// - Parameter signingSecret: the app's signing secret; never logged.
    public init(signingSecret: String) {
        var key = Array(signingSecret.utf8)
        if key.count > SHA256.blockByteCount { key = Array(SHA256.hash(data: key)) }
        key += repeatElement(0, count: SHA256.blockByteCount - key.count)
        inner = Self.hashing(key.map { $0 ^ 0x36 })
        outer = Self.hashing(key.map { $0 ^ 0x5c })
    }

    /// Checks a request's signature over its raw body bytes, before anything parses them.
    /// - Throws: ``SlackSignatureError`` saying what is wrong (the message holds no secret).
    public func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, now: Date = Date()) throws(SlackSignatureError) {
        guard let timestamp, let signature else { throw .missing }
        guard let seconds = Int64(timestamp) else { throw .malformed }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= Self.tolerance else { throw .stale }
        guard signature.hasPrefix("v0="), let mac = Hex.decode(signature.dropFirst(3)), mac.count == SHA256.byteCount else { throw .malformed }
        guard Self.equalInConstantTime(code(body: body, timestamp: timestamp), mac) else { throw .mismatch }
    }

    /// The signature Slack would send for `body` at `timestamp`: for tests and tools.
    public func sign(body: some Collection<UInt8>, timestamp: String) -> String {
        "v0=" + Hex.encode(code(body: body, timestamp: timestamp))
    }

    /// HMAC-SHA256(signing secret, `v0:<timestamp>:<body>`).
    private func code(body: some Collection<UInt8>, timestamp: String) -> SHA256.Digest {
        var hash = inner
        var prefix = "v0:\(timestamp):"
        prefix.withUTF8 { hash.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if body.withContiguousStorageIfAvailable({ hash.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            Array(body).withUnsafeBytes { hash.update(bufferPointer: $0) }
        }
        var outerHash = outer
        hash.finalize().withUnsafeBytes { outerHash.update(bufferPointer: $0) }
        return outerHash.finalize()
    }

    private static func hashing(_ block: [UInt8]) -> SHA256 {
        var hash = SHA256()
        block.withUnsafeBytes { hash.update(bufferPointer: $0) }
        return hash
    }

    /// Whether `digest` equals `mac`, taking the same time wherever they differ.
    private static func equalInConstantTime(_ digest: SHA256.Digest, _ mac: [UInt8]) -> Bool {
        digest.withUnsafeBytes { computed in
            computed.count == mac.count && zip(computed, mac).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
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
