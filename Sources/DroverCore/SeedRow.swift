/// One row of a CSV in the seed tutorial's schema — `prompt,path,rating,rater,model_version`,
/// optionally followed by `voted_at`, `source` and columns that are ignored — as read from
/// `annotations/train.csv` or from a file to import.
public struct SeedRow: Hashable, Sendable {
    /// The columns a seed CSV must have; the order does not matter when reading.
    public static let requiredColumns = Array(TrainingRow.columns.prefix(5))

    public var prompt: String
    /// The image's path as written, relative to the CSV's dataset root.
    public var path: String
    public var rating: Rating
    public var rater: String
    public var modelVersion: String
    /// ISO 8601, when the file has a `voted_at` column.
    public var votedAt: String?
    /// When the file has a `source` column.
    public var source: String?
    /// The record's number in the file, the header being 1.
    public var line: Int

    public init(
        prompt: String, path: String, rating: Rating, rater: String, modelVersion: String, votedAt: String?, source: String?, line: Int
    ) {
        self.prompt = prompt
        self.path = path
        self.rating = rating
        self.rater = rater
        self.modelVersion = modelVersion
        self.votedAt = votedAt
        self.source = source
        self.line = line
    }

    /// The fields in ``TrainingRow/columns`` order, as Drover writes `train.csv`.
    public var fields: [String] {
        [prompt, path, rating.rawValue, rater, modelVersion, votedAt ?? "", source ?? ""]
    }

    /// The image id, when ``path`` is a dataset image's (``ImageID/init(datasetPath:)``).
    public var imageID: ImageID? { ImageID(datasetPath: path) }

    /// The rows of a seed CSV document.
    /// - Throws: ``CSV/ParseError`` naming the first record that is not CSV, lacks a column, or
    ///   has a rating other than `Approve` / `Disapprove` or an empty prompt, path or rater.
    public static func rows(in document: some StringProtocol) throws(CSV.ParseError) -> [SeedRow] {
        let records = try CSV.records(in: document)
        guard let header = records.first else { throw CSV.ParseError(description: "the file is empty: no header") }
        var column: [String: Int] = [:]
        for (index, name) in header.enumerated() {
            let name = name.trimmingWhitespace()
            if column[name] == nil { column[name] = index }
        }
        let missing = requiredColumns.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw CSV.ParseError(description: "the header lacks \(missing.joined(separator: ", ")) (a seed CSV has \(requiredColumns.joined(separator: ",")))")
        }
        var rows: [SeedRow] = []
        rows.reserveCapacity(records.count - 1)
        for (offset, record) in records.dropFirst().enumerated() where record != [""] {
            let line = offset + 2
            func field(_ name: String) -> String? { column[name].map { record[$0] } }
            guard record.count == header.count else {
                throw CSV.ParseError(description: "line \(line): \(record.count) fields, the header has \(header.count)")
            }
            let ratingText = field("rating") ?? ""
            guard let rating = Rating(rawValue: ratingText) else {
                throw CSV.ParseError(description: "line \(line): rating is \"\(ratingText.prefix(40))\", not Approve or Disapprove")
            }
            let prompt = field("prompt") ?? "", path = field("path") ?? "", rater = field("rater") ?? ""
            guard !prompt.isEmpty, !path.isEmpty, !rater.isEmpty else {
                throw CSV.ParseError(description: "line \(line): prompt, path and rater must not be empty")
            }
            rows.append(SeedRow(
                prompt: prompt, path: path, rating: rating, rater: rater, modelVersion: field("model_version") ?? "",
                votedAt: field("voted_at").flatMap { $0.isEmpty ? nil : $0 }, source: field("source").flatMap { $0.isEmpty ? nil : $0 },
                line: line
            ))
        }
        return rows
    }
}
