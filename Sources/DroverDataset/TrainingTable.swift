import DroverCore
import DroverStore

/// The rows of one rows file (`annotations/train/<shard>/<abc>.csv`): one per active vote.
///
/// It starts from the file as committed and changes it in place: a new rating appends its row,
/// a changed one is rewritten where it stands, a retracted one is removed, and every other row
/// keeps its bytes and its place. So a commit's diff is exactly its changes, and rows this committer did not write —
/// merged in from another branch of the dataset — are kept (see "Merging branches" in docs/dataset.md).
struct TrainingTable {
    private struct Key: Hashable {
        var path: String
        var rater: String
    }

    private var slots: [(key: Key, rating: Rating, line: [UInt8])?] = []
    private var index: [Key: Int] = [:]
    private var holes = 0
    /// The document as last built, and where each slot's row starts in it: kept up to date row
    /// by row, so that a commit does not rebuild megabytes to change one row.
    private var rendered: (bytes: [UInt8], starts: [Int])?

    /// How many rows.
    var count: Int { index.count }

    init() {}

    /// The rows of a rows file; of two rows for the same image and rater (a union
    /// merge of two branches that rated it differently), the later one is kept, in the earlier
    /// one's place.
    /// - Throws: ``CSV/ParseError`` if the document is not a seed CSV.
    init(csv document: String) throws(CSV.ParseError) {
        for row in try SeedRow.rows(in: document) {
            set(Key(path: row.path, rater: row.rater), row.rating, [
                row.prompt, row.path, row.rating.rawValue, row.rater, row.modelVersion, row.votedAt ?? "", row.source ?? "",
            ])
        }
    }

    /// Applies one vote event: a first rating appends the rater's row for that image, a changed
    /// one replaces it where it stands, a retraction removes it.
    mutating func apply(_ change: VoteChange) {
        let event = change.event
        let key = Key(path: event.imageID.datasetPath, rater: event.rater)
        guard let rating = event.rating else { return remove(key) }
        set(key, rating, TrainingRow(
            prompt: change.prompt, image: event.imageID, rating: rating, rater: event.rater,
            modelVersion: change.modelVersion, votedAt: Timestamp.iso8601(event.occurredAt), source: event.source.rawValue
        ).fields)
    }

    /// The whole CSV document, header first.
    mutating func csv() -> [UInt8] {
        if let rendered { return rendered.bytes }
        let header = Array(CSV.line(TrainingRow.columns).utf8)
        let total = slots.reduce(header.count) { $0 + ($1?.line.count ?? 0) }
        var starts: [Int] = []
        starts.reserveCapacity(slots.count)
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            guard let base = buffer.baseAddress else { return count = 0 }
            var offset = 0
            func copy(_ line: [UInt8]) {
                line.withUnsafeBufferPointer { source in
                    guard let start = source.baseAddress else { return }
                    (base + offset).initialize(from: start, count: source.count)
                }
                offset += line.count
            }
            copy(header)
            for slot in slots {
                starts.append(offset)
                if let slot { copy(slot.line) }
            }
            count = offset
        }
        rendered = (bytes, starts)
        return bytes
    }

    /// Makes the rows of every image × rater that `history` (vote events, oldest first) names
    /// agree with its last event, leaving the rows it does not name alone.
    ///
    /// A union merge keeps both sides of the lines that both branches touched at the end of the
    /// file, so a row this ledger retracted, or rated again, can come back from the other branch;
    /// the ledger is the authority on the votes it recorded.
    /// - Returns: one line per row changed, for the commit message.
    mutating func conform(to history: [VoteChange]) -> [String] {
        var last: [Key: VoteChange] = [:]
        var order: [Key] = []
        for change in history {
            let key = Key(path: change.event.imageID.datasetPath, rater: change.event.rater)
            if last.updateValue(change, forKey: key) == nil { order.append(key) }
        }
        var repairs: [String] = []
        for key in order {
            guard let change = last[key] else { continue }
            let current = index[key].flatMap { slots[$0]?.rating }
            guard current != change.event.rating else { continue }
            apply(change)
            let what = change.event.rating.map { "Restore \($0.rawValue)" } ?? "Remove the retracted \(current?.rawValue ?? "")"
            repairs.append("\(what) on image \(change.event.imageID) by rater \(key.rater)")
        }
        return repairs
    }

    private mutating func set(_ key: Key, _ rating: Rating, _ fields: [String]) {
        let line = Array(CSV.line(fields).utf8)
        if let position = index[key] {
            replaceRendered(position, with: line)
            slots[position] = (key, rating, line)
        } else {
            index[key] = slots.count
            slots.append((key, rating, line))
            if rendered != nil {
                rendered!.starts.append(rendered!.bytes.count)
                rendered!.bytes.append(contentsOf: line)
            }
        }
    }

    private mutating func remove(_ key: Key) {
        guard let position = index.removeValue(forKey: key) else { return }
        replaceRendered(position, with: [])
        slots[position] = nil
        holes += 1
        if holes > 1_024, holes > slots.count / 2 { compact() }
    }

    /// Puts `line` where the row of slot `position` stands in the rendered document, if any.
    private mutating func replaceRendered(_ position: Int, with line: [UInt8]) {
        guard rendered != nil else { return }
        let start = rendered!.starts[position]
        let old = slots[position]?.line.count ?? 0
        rendered!.bytes.replaceSubrange(start..<start + old, with: line)
        let shift = line.count - old
        if shift != 0 {
            for later in position + 1..<rendered!.starts.count { rendered!.starts[later] += shift }
        }
    }

    private mutating func compact() {
        let kept = slots.compactMap { $0 }
        slots = kept.map { Optional($0) }
        index = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($0.element.key, $0.offset) })
        holes = 0
        rendered = nil
    }
}

/// The rows of the `annotations/train/<shard>/<abc>.csv` files (``DatasetLayout``): one
/// ``TrainingTable`` per file, so that a vote rewrites one 4,096th of the rows. Holds every file, or
/// (after a start that could skip reading them) those loaded as votes first changed them.
struct TrainingShards {
    /// The tables by file path.
    private var tables: [String: TrainingTable] = [:]

    /// How many rows in all.
    var count: Int { tables.values.reduce(0) { $0 + $1.count } }

    init() {}

    /// The rows of the files, by path.
    /// - Throws: ``ExportError`` naming the file, if one is not a seed CSV.
    init(files: [(path: String, content: String)]) throws {
        for file in files { try load(file.path, document: file.content) }
    }

    /// Whether the rows of the file at `path` are here.
    func isLoaded(_ path: String) -> Bool { tables[path] != nil }

    /// Takes the rows of the file at `path` from its document (`nil`: there is no such file, so no rows).
    /// - Throws: ``ExportError`` naming the file, if it is not a seed CSV.
    mutating func load(_ path: String, document: String?) throws {
        do {
            tables[path] = try document.map { document throws(CSV.ParseError) in try TrainingTable(csv: document) } ?? TrainingTable()
        } catch {
            throw ExportError("\(path): \(error.description)")
        }
    }

    /// The file that holds the rows of votes on `image`.
    static func path(of image: ImageID) -> String { DatasetLayout.trainCSV(of: image) }

    /// Applies one vote event to its shard's table (``TrainingTable/apply(_:)``).
    mutating func apply(_ change: VoteChange) {
        tables[Self.path(of: change.event.imageID), default: TrainingTable()].apply(change)
    }

    /// The whole CSV document of the file at `path`, header first.
    mutating func csv(of path: String) -> [UInt8] {
        tables[path, default: TrainingTable()].csv()
    }

    /// ``TrainingTable/conform(to:)`` for every shard that `history` names.
    /// - Returns: one line per row changed, for the commit message, and the files changed.
    mutating func conform(to history: [VoteChange]) -> (repairs: [String], files: [String]) {
        var repairs: [String] = []
        var files: [String] = []
        for (path, changes) in Dictionary(grouping: history, by: { Self.path(of: $0.event.imageID) }).sorted(by: { $0.key < $1.key }) {
            let repaired = tables[path, default: TrainingTable()].conform(to: changes)
            if !repaired.isEmpty {
                repairs += repaired
                files.append(path)
            }
        }
        return (repairs, files)
    }
}
