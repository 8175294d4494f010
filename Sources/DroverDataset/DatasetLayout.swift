import DroverCore
import DroverGit
import Foundation

/// Where things are in the dataset repository — a contract, see docs/dataset.md.
///
/// Everything is sharded by the image id's first two hex digits (``ImageID/shard``), as git
/// shards its own objects: `images/<shard>/<id>.png` and the votes' rows in
/// `annotations/train/<shard>.csv`. The images' provenance, a few hundred bytes an image, is
/// sharded once more, by the id's first three hex digits:
/// `annotations/images/<shard>/<first three>.jsonl`. A commit then rewrites one folder's listing
/// and a 256th (rows) or a 4,096th (provenance) of the dataset's files, whatever its size.
/// `drover export --format seed-csv` writes the single `annotations/train.csv` that the seed
/// tutorial's readers load.
public enum DatasetLayout {
    /// The folder of the rows' shards.
    public static let trainFolder = "annotations/train"
    /// The folder of the provenance shards.
    public static let provenanceFolder = "annotations/images"

    /// The CSV file holding the rows of votes on images of `shard`.
    public static func trainCSV(_ shard: String) -> String { "\(trainFolder)/\(shard).csv" }

    /// The JSON Lines file holding the provenance of `image`, with that of every image whose id
    /// starts with the same three hex digits.
    public static func provenance(of image: ImageID) -> String {
        "\(provenanceFolder)/\(image.shard)/\(image.rawValue.prefix(3)).jsonl"
    }

    /// The one file of rows before the sharded layout (and what the seed-csv export writes).
    public static let unshardedTrainCSV = "annotations/train.csv"
    /// The one provenance file before the sharded layout.
    static let unshardedProvenance = "annotations/images.jsonl"
    /// Whether a provenance file is where this layout puts it, `<shard>/<first three>.jsonl`,
    /// rather than in an older place: `annotations/images.jsonl`, or `annotations/images/<shard>.jsonl`
    /// (before provenance was sharded by three digits).
    static func isCurrentProvenanceFile(_ path: String) -> Bool {
        let parts = path.dropFirst(provenanceFolder.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        return path.hasPrefix(provenanceFolder + "/") && parts.count == 2 && parts[1].hasPrefix(parts[0])
    }

    static let gitattributes = "annotations/**/*.csv merge=union\nannotations/**/*.jsonl merge=union\n*.png binary\n"

    /// The files of rows at `commit`, in either layout, with their contents, by path.
    static func trainFiles(at commit: String, _ git: Git) async throws -> [(path: String, content: String)] {
        try await files(at: commit, [unshardedTrainCSV, trainFolder + "/"], git)
    }

    /// The provenance files at `commit`, in either layout, with their contents, by path.
    static func provenanceFiles(at commit: String, _ git: Git) async throws -> [(path: String, content: String)] {
        try await files(at: commit, [unshardedProvenance, provenanceFolder + "/"], git)
    }

    /// The files under `pathspecs` at `commit`, read by one `git cat-file --batch`.
    private static func files(at commit: String, _ pathspecs: [String], _ git: Git) async throws -> [(path: String, content: String)] {
        let paths = try await git.run(["ls-tree", "-r", "-z", "--name-only", commit, "--"] + pathspecs).split(separator: "\0").map(String.init)
        guard !paths.isEmpty else { return [] }
        let output = Array(try await git.run(
            ["cat-file", "--batch"], input: paths.map { "\(commit):\($0)\n" }.joined(), outputLimit: 1 << 31
        ).utf8)
        // Each: "<object> blob <size>\n<content>\n".
        var files: [(path: String, content: String)] = []
        var offset = 0
        for path in paths {
            guard let newline = output[offset...].firstIndex(of: UInt8(ascii: "\n")),
                  let size = String(decoding: output[offset..<newline], as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }),
                  newline + 1 + size <= output.count
            else { throw GitWriteError("cannot read \(path) at \(commit.prefix(10))") }
            files.append((path, String(decoding: output[newline + 1..<newline + 1 + size], as: UTF8.self)))
            offset = newline + 1 + size + 1
        }
        return files
    }
}
