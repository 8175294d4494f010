import DroverGit
import DroverCore
import Foundation

/// A training format `drover export` writes.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// `images/` + one `annotations/train.csv`, the seed tutorial's layout.
    case seedCSV = "seed-csv"
    /// Hugging Face `imagefolder`: `images/` + `metadata.jsonl`.
    case imageFolder = "imagefolder"
    /// TRL's KTO fields: `images/` + `kto.jsonl`.
    case kto
    /// Diffusion-KTO: `images/` + `train_processed_v3.csv`, the file its reference trainer reads.
    case diffusionKTO = "diffusion-kto"
    /// Pick-a-Pic-style preference pairs: `images/` + `pairs.csv`.
    case pairs

    /// The file the format writes beside `images/`.
    public var fileName: String {
        switch self {
        case .seedCSV: DatasetLayout.unshardedTrainCSV
        case .imageFolder: "metadata.jsonl"
        case .kto: "kto.jsonl"
        case .diffusionKTO: "train_processed_v3.csv"
        case .pairs: "pairs.csv"
        }
    }
}

/// What an export wrote.
public struct ExportSummary: Sendable, Equatable {
    /// The commit exported.
    public var commit: String
    /// Records in the format's file.
    public var records: Int
    /// Images written to `images/`.
    public var images: Int
}

extension DatasetHistory {
    /// Writes the dataset as committed at `revision` in `format` into `directory`, which must be
    /// empty or absent: the images under `images/` and the format's file beside them. The row
    /// mapping is ``TrainingExports``'.
    /// - Parameter versions: only the votes on images of these model versions, if given.
    /// - Throws: ``ExportError`` if the directory is not empty, the revision names no commit or
    ///   its rows cannot be read.
    public func export(
        _ format: ExportFormat, at revision: String = "HEAD", versions: Set<String>? = nil, to directory: String
    ) async throws -> ExportSummary {
        let fileManager = FileManager.default
        if let existing = try? fileManager.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw ExportError("\(directory) is not empty")
        }
        let commit = try await resolve(revision)
        var rows: [SeedRow] = []
        for file in try await DatasetLayout.trainFiles(at: commit, git) {
            let fileRows: [SeedRow]
            do {
                fileRows = try SeedRow.rows(in: file.content)
            } catch {
                throw ExportError("\(file.path) at \(commit.prefix(10)): \(error)")
            }
            if let stray = fileRows.first(where: { $0.imageID == nil }) {
                throw ExportError("\(file.path) line \(stray.line): path \"\(stray.path)\" is not images/<shard>/<id>.png")
            }
            rows += fileRows
        }
        if let versions { rows.removeAll { !versions.contains($0.modelVersion) } }
        try fileManager.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        let images = try await extractImages(at: commit, to: directory)
        let output: Data
        let records: Int
        switch format {
        case .seedCSV:
            output = Data(CSV.document(header: TrainingRow.columns, rows: rows.map(\.fields)).utf8)
            records = rows.count
        case .imageFolder:
            let metadata = TrainingExports.imageFolder(rows, provenance: try await provenance(at: commit))
            output = try Self.jsonLines(metadata)
            records = metadata.count
        case .kto:
            let kto = TrainingExports.kto(rows)
            output = try Self.jsonLines(kto)
            records = kto.count
        case .diffusionKTO:
            let labelled = TrainingExports.diffusionKTO(rows)
            output = Data(CSV.document(header: DiffusionKTORow.columns, rows: labelled.map(\.fields)).utf8)
            records = labelled.count
        case .pairs:
            let pairs = TrainingExports.pairs(rows)
            output = Data(CSV.document(header: PreferencePair.columns, rows: pairs.map(\.fields)).utf8)
            records = pairs.count
        }
        let file = URL(filePath: directory).appending(path: format.fileName)
        try fileManager.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try output.write(to: file)
        return ExportSummary(commit: commit, records: records, images: images)
    }

    /// Every image of `commit`, written under `directory/images/`.
    private func extractImages(at commit: String, to directory: String) async throws -> Int {
        let count = try await git.run(["ls-tree", "-r", "--name-only", commit, "--", "images/"]).split(separator: "\n").count
        guard count > 0 else { return 0 }
        let archive = directory + "/.images.tar"
        defer { try? FileManager.default.removeItem(atPath: archive) }
        try await git.run(["archive", "--format=tar", "-o", archive, commit, "--", "images"])
        try await Command.run("tar", ["-xf", archive], in: directory)
        return count
    }

    /// The provenance of each image at `commit`, from its `annotations/images/` files.
    private func provenance(at commit: String) async throws -> [ImageID: ImageProvenance] {
        let decoder = JSONDecoder()
        var byImage: [ImageID: ImageProvenance] = [:]
        for file in try await DatasetLayout.provenanceFiles(at: commit, git) {
            for line in file.content.split(separator: "\n") {
                if let provenance = try? decoder.decode(ImageProvenance.self, from: Data(line.utf8)) { byImage[provenance.id] = provenance }
            }
        }
        return byImage
    }

    private static func jsonLines(_ records: [some Encodable]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        for record in records {
            out += try encoder.encode(record)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}
