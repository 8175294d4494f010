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

    /// The image's path inside the dataset repository: `images/<id>.png`.
    public var datasetPath: String { "images/\(rawValue).png" }

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
