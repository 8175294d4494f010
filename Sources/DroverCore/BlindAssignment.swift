import Crypto

/// Which model version makes each image of a request: each image's version is drawn on its own,
/// at random by the versions' weights, so a request may mix versions and, since every position
/// is drawn alike, the versions come in random order.
///
/// The draw for image `i` is HMAC-SHA256(secret, "assignment:<request key>:<i>") read as a number
/// in [0, 1): the same request key (a redelivered Slack command, a retried web request) gets the
/// same versions, and no one without the data directory's secret can predict them from the key,
/// the prompt or the image id.
public struct BlindAssignment: Sendable, Equatable {
    /// One image's version and the draw that chose it.
    public struct Slot: Sendable, Equatable {
        public var modelVersion: String
        /// The number in [0, 1) that chose the version, recorded with the image; `nil` when the
        /// requester pinned the version.
        public var draw: Double?

        public init(modelVersion: String, draw: Double?) {
            self.modelVersion = modelVersion
            self.draw = draw
        }
    }

    /// The images' versions, in the order the images are shown.
    public var slots: [Slot]

    /// Draws a version for each of `count` images.
    /// - Parameters:
    ///   - versions: names and traffic weights; a weight of 0 is never drawn. At least one weight
    ///     must be above 0.
    ///   - requestKey: what identifies the request across redeliveries.
    ///   - secret: the data directory's key.
    public init(count: Int, versions: [(name: String, weight: Double)], requestKey: String, secret: [UInt8]) {
        let total = versions.reduce(0) { $0 + $1.weight }
        precondition(total > 0, "at least one version has traffic")
        slots = (0..<count).map { index in
            let draw = Self.draw(requestKey: requestKey, index: index, secret: secret)
            var threshold = 0.0
            let drawn = versions.first { version in
                threshold += version.weight / total
                return version.weight > 0 && draw < threshold
            } ?? versions.last { $0.weight > 0 }!  // rounding left the draw just above the last threshold
            return Slot(modelVersion: drawn.name, draw: draw)
        }
    }

    /// Image `index`'s number in [0, 1): the HMAC's first 53 bits.
    static func draw(requestKey: String, index: Int, secret: [UInt8]) -> Double {
        let code = HMAC<SHA256>.authenticationCode(for: Array("assignment:\(requestKey):\(index)".utf8), using: SymmetricKey(data: secret))
        let bits = code.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(bits >> 11) / Double(UInt64(1) << 53)
    }
}

/// How an image's model version was decided, as the provenance files and the ledger record it.
public enum Assignment: String, Codable, Sendable, CaseIterable {
    /// Drawn at random by weight, blinded: the images a comparison counts by default.
    case random
    /// Pinned by the requester (`/ox --model NAME`): known to whoever asked, so left out of
    /// comparisons unless asked for.
    case chosen
}
