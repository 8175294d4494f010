import DroverCore
import Foundation

/// The dataset's git repository and its fixed layout (a contract, see DESIGN.md):
/// `images/<id>.png`, `annotations/train.csv`, `annotations/images.jsonl`, `.gitattributes`.
///
/// Only the ``Committer`` writes through it.
public struct DatasetRepository: Sendable {
    public static let trainCSVPath = "annotations/train.csv"
    public static let imagesJSONLPath = "annotations/images.jsonl"
    static let gitattributes = "annotations/*.csv merge=union\nannotations/*.jsonl merge=union\n*.png binary\n"

    /// The repository's working tree.
    public let directory: String
    /// git, run in ``directory``.
    public let git: Git

    init(directory: String) {
        self.directory = directory
        self.git = Git(directory: directory)
    }

    /// Opens the repository at `directory`, creating it with the empty layout and a first commit
    /// if it does not exist, and puts its working tree back to the last commit (a crash may have
    /// left files written but not committed, or a stale lock).
    public static func open(at directory: String) async throws -> DatasetRepository {
        let repository = DatasetRepository(directory: directory)
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: directory + "/.git") {
            try fileManager.createDirectory(atPath: directory + "/annotations", withIntermediateDirectories: true)
            try fileManager.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
            try await repository.git.run(["init", "-q", "-b", "main"])
            try repository.write(Data(gitattributes.utf8), to: ".gitattributes")
            try repository.write(Data(CSV.line(TrainingRow.columns).utf8), to: trainCSVPath)
            try repository.write(Data(), to: imagesJSONLPath)
            try await repository.git.run(["add", "--", ".gitattributes", trainCSVPath, imagesJSONLPath])
            try await repository.git.run(["commit", "-q", "--no-verify", "-F", "-"], input: "Create the Drover dataset\n")
        } else {
            try? fileManager.removeItem(atPath: directory + "/.git/index.lock")
            try await repository.git.run(["reset", "-q", "--hard", "HEAD"])
            try await repository.git.run(["clean", "-q", "-f", "-d", "--", "images", "annotations"])
            try fileManager.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        }
        return repository
    }

    /// The full message of the commit at HEAD.
    public func headMessage() async throws -> String {
        try await git.run(["log", "-1", "--format=%B"])
    }

    /// Commits the files as they are in the working tree.
    /// - Returns: the new commit's hash.
    func commit(paths: [String], message: String) async throws -> String {
        try await git.run(["add", "--"] + paths)
        try await git.run(["commit", "-q", "--no-verify", "-F", "-"], input: message)
        return try await git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
    }

    /// Replaces a file in the working tree atomically (written beside it, then renamed).
    func write(_ data: Data, to path: String) throws {
        let target = URL(filePath: directory).appending(path: path)
        let temporary = target.deletingLastPathComponent().appending(path: ".\(target.lastPathComponent).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, target.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
        }
    }

    /// Appends to a file in the working tree.
    func append(_ text: String, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(filePath: directory).appending(path: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }
}
