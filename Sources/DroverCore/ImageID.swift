import Crypto

/// A content address for an image: the first 16 hex digits of SHA-256 of its PNG bytes.
///
/// The only way to build one from outside input is ``init(validating:)``, which accepts exactly
/// 16 lowercase hex digits — so an `ImageID` is always safe to use in a file name.
public struct ImageID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The 16 lowercase hex digits.
    public let rawValue: String

    /// The id of an image with these PNG bytes.
    public init(pngBytes: some Sequence<UInt8>) {
        let digest = SHA256.hash(data: Array(pngBytes))
        self.rawValue = String(Hex.encode(digest).prefix(16))
    }

    /// Accepts `text` only if it is exactly 16 lowercase hex digits.
    public init?(validating text: some StringProtocol) {
        guard text.utf8.count == 16, text.utf8.allSatisfy(Hex.isLowercaseDigit) else { return nil }
        self.rawValue = String(text)
    }

    /// Same as ``init(validating:)``.
    public init?(rawValue: String) {
        self.init(validating: rawValue)
    }

    /// The image's shard: its first two hex digits, one of 256. The dataset's images are kept in
    /// one folder per shard, and their rows and provenance in files in one folder per shard, so
    /// that a commit rewrites a 256th of the dataset's listing, not all of it.
    public var shard: String { String(rawValue.prefix(2)) }

    /// The image's path inside the dataset repository: `images/<shard>/<id>.png`.
    public var datasetPath: String { "images/\(shard)/\(rawValue).png" }

    /// The id named by a dataset path: `images/<shard>/<id>.png`, or `images/<id>.png` as
    /// datasets before the sharded layout have it.
    public init?(datasetPath path: some StringProtocol) {
        guard path.hasPrefix("images/"), path.hasSuffix(".png") else { return nil }
        let name = path.dropFirst("images/".count).dropLast(".png".count)
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let id = ImageID(validating: parts[parts.count - 1]) else { return nil }
        guard parts.count == 1 || (parts.count == 2 && parts[0] == id.shard) else { return nil }
        self = id
    }

    public var description: String { rawValue }

    public static func < (lhs: ImageID, rhs: ImageID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = ImageID(validating: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "an image id is 16 lowercase hex digits")
            )
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
