/// One active vote as a row of `annotations/train/<shard>/<abc>.csv`.
///
/// The first five columns are the seed tutorial's, in its order; the rest follow.
public struct TrainingRow: Hashable, Sendable {
    /// The CSV header, first five columns fixed by contract.
    public static let columns = ["prompt", "path", "rating", "rater", "model_version", "voted_at", "source"]

    public var prompt: String
    public var image: ImageID
    public var rating: Rating
    public var rater: String
    public var modelVersion: String
    /// ISO 8601, UTC.
    public var votedAt: String
    /// Where the vote came from: `web`, `slack-reaction`, `slack-button`, `import`, ….
    public var source: String

    public init(prompt: String, image: ImageID, rating: Rating, rater: String, modelVersion: String, votedAt: String, source: String) {
        self.prompt = prompt
        self.image = image
        self.rating = rating
        self.rater = rater
        self.modelVersion = modelVersion
        self.votedAt = votedAt
        self.source = source
    }

    /// The row's fields in ``columns`` order.
    public var fields: [String] {
        [prompt, image.datasetPath, rating.rawValue, rater, modelVersion, votedAt, source]
    }
}

/// RFC 4180 CSV writing: fields quoted only when they must be, `\n` line ends.
public enum CSV {
    /// One line, ending in `\n`.
    public static func line(_ fields: [String]) -> String {
        fields.map(quoted).joined(separator: ",") + "\n"
    }

    /// A whole document: header then rows.
    public static func document(header: [String], rows: some Sequence<[String]>) -> String {
        var out = line(header)
        for row in rows { out += line(row) }
        return out
    }

    /// How many records (lines outside quotes) a document holds, the header included.
    public static func recordCount(in document: String) -> Int {
        var inQuotes = false
        var count = 0
        for byte in document.utf8 {
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if byte == UInt8(ascii: "\n"), !inQuotes { count += 1 }
        }
        return count
    }

    static func quoted(_ field: String) -> String {
        let needsQuotes = field.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
        guard needsQuotes else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }
}
