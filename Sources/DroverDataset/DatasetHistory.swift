import DroverCore
import Foundation

/// One commit of the dataset, as `drover log` and `/api/commits` show it.
public struct DatasetCommit: Codable, Sendable, Equatable {
    public var sha: String
    public var subject: String
    /// ISO 8601, as git prints it.
    public var date: String
}

/// Read-only views of the dataset's history; safe while the committer writes.
public struct DatasetHistory: Sendable {
    let git: Git

    /// Reads the repository at `directory`.
    public init(directory: String) {
        git = Git(directory: directory)
    }

    /// The newest commits first.
    public func log(limit: Int) async throws -> [DatasetCommit] {
        let output = try await git.run(["log", "-n", "\(limit)", "--format=%H%x1f%s%x1f%cI"])
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\u{1f}", omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return DatasetCommit(sha: String(fields[0]), subject: String(fields[1]), date: String(fields[2]))
        }
    }

    /// Writes the seed tutorial's layout — `images/` and `annotations/train.csv` as committed at
    /// `revision` — into `directory`, which must be empty or absent.
    /// - Returns: how many rows and images were written.
    public func exportSeedCSV(at revision: String = "HEAD", to directory: String) async throws -> (rows: Int, images: Int) {
        let fileManager = FileManager.default
        if let existing = try? fileManager.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw ExportError("\(directory) is not empty")
        }
        try fileManager.createDirectory(atPath: directory + "/annotations", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        let commit = try await git.run(["rev-parse", "--verify", "\(revision)^{commit}"]).trimmingWhitespace()
        let csv = try await git.run(["show", "\(commit):\(DatasetRepository.trainCSVPath)"])
        try Data(csv.utf8).write(to: URL(filePath: directory).appending(path: DatasetRepository.trainCSVPath))
        let imageCount = try await git.run(["ls-tree", "--name-only", commit, "images/"]).split(separator: "\n").count
        if imageCount > 0 {
            let archive = directory + "/.images.tar"
            defer { try? fileManager.removeItem(atPath: archive) }
            try await git.run(["archive", "--format=tar", "-o", archive, commit, "--", "images"])
            try await Command.run("tar", ["-xf", archive], in: directory)
        }
        return (CSV.recordCount(in: csv) - 1, imageCount)
    }
}

/// An export that cannot be made; the message says why.
public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
