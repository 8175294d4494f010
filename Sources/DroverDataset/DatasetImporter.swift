import DroverCore
import DroverStore
import Foundation

/// Reads a CSV in the seed schema from another source for `drover import`.
///
/// Each row's `path` is looked up relative to the CSV's directory: a PNG found there is added to
/// the dataset (under its content address, so the same picture is never stored twice). A row
/// whose file is absent is accepted only if its path is already a dataset image
/// (`images/<id>.png` with an id the ledger holds) — a vote from a copy of this dataset. Any
/// other row is refused, and so is the whole file: the dataset only ever holds votes whose image
/// it has, so an import adds everything or nothing.
public struct DatasetImporter: Sendable {
    /// The largest image accepted.
    public static let maxImageBytes = 64 << 20

    /// Whether the ledger holds an image.
    let isKnown: @Sendable (ImageID) throws -> Bool

    public init(isKnown: @escaping @Sendable (ImageID) throws -> Bool) {
        self.isKnown = isKnown
    }

    /// The votes of the CSV at `path`, their images read.
    /// - Parameter now: the vote time of rows without `voted_at`.
    /// - Throws: ``ImportError`` listing the rows that cannot be imported.
    public func votes(fromCSV path: String, now: Date = Date()) throws -> [ImportedVote] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError("cannot read \(path)") }
        let rows: [SeedRow]
        do {
            rows = try SeedRow.rows(in: String(decoding: data, as: UTF8.self))
        } catch {
            throw ImportError("\(path): \(error)")
        }
        guard !rows.isEmpty else { throw ImportError("\(path) has no rows") }
        let root = URL(filePath: path).deletingLastPathComponent()
        var votes: [ImportedVote] = []
        var problems: [String] = []
        var cache: [String: ImportedVote.Image] = [:]
        for row in rows {
            do {
                let image = try cache[row.path] ?? resolveImage(row, root: root)
                cache[row.path] = image
                guard row.rater.utf8.count <= 100 else { throw ImportError("rater is longer than 100 bytes") }
                let votedAt = row.votedAt.flatMap(Self.date) ?? now
                votes.append(ImportedVote(row: row, image: image, votedAt: votedAt))
            } catch {
                problems.append("line \(row.line): \(error)")
            }
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(10).joined(separator: "\n  ")
            throw ImportError("nothing imported; \(problems.count) rows cannot be:\n  \(shown)\(problems.count > 10 ? "\n  …" : "")")
        }
        return votes
    }

    private func resolveImage(_ row: SeedRow, root: URL) throws -> ImportedVote.Image {
        let components = row.path.split(separator: "/")
        guard !row.path.hasPrefix("/"), !components.contains("..") else {
            throw ImportError("path \"\(row.path)\" must stay inside the CSV's directory")
        }
        let file = root.appending(path: row.path)
        if let attributes = try? FileManager.default.attributesOfItem(atPath: file.path) {
            guard let size = attributes[.size] as? Int, size <= Self.maxImageBytes else {
                throw ImportError("\(row.path) is larger than \(Self.maxImageBytes >> 20) MiB")
            }
            let png = try Data(contentsOf: file)
            guard let size = PNGSize(png) else { throw ImportError("\(row.path) is not a PNG") }
            return .new(png: png, width: size.width, height: size.height)
        }
        if let id = row.imageID, try isKnown(id) { return .existing(id) }
        throw ImportError("image \(row.path) is missing: neither beside the CSV nor in the dataset")
    }

    private static func date(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }
}

/// The size a PNG's header gives.
struct PNGSize {
    var width: Int
    var height: Int

    /// Reads the IHDR chunk; `nil` unless `data` starts with the PNG signature and an IHDR.
    init?(_ data: Data) {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
              bytes[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
        func integer(_ offset: Int) -> Int { bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) } }
        width = integer(16)
        height = integer(20)
    }
}

/// A file that cannot be imported; nothing was.
public struct ImportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
