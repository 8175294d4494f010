import DroverCore
import DroverGit
import Foundation

/// Where things are in the dataset repository — a contract, see docs/dataset.md.
///
/// Everything is sharded by the image id's first two hex digits (``ImageID/shard``), as git
/// shards its own objects: `images/<shard>/<id>.png`. The votes' rows and the images'
/// provenance, a few hundred bytes an image or a vote, are sharded once more, by the id's first
/// three hex digits: `annotations/train/<shard>/<first three>.csv` and
/// `annotations/images/<shard>/<first three>.jsonl`. A commit then rewrites one folder's listing
/// and a 4,096th of the dataset's rows or provenance, whatever its size.
/// `drover export --format seed-csv` writes the single `annotations/train.csv` that the seed
/// tutorial's readers load.
public enum DatasetLayout {
    /// The folder of the rows' shards.
    public static let trainFolder = "annotations/train"
    /// The folder of the provenance shards.
    public static let provenanceFolder = "annotations/images"

    /// The CSV file holding the rows of votes on `image`, with those on every image whose id
    /// starts with the same three hex digits.
    public static func trainCSV(of image: ImageID) -> String { file(of: image, in: trainFolder, extension: "csv") }

    /// The JSON Lines file holding the provenance of `image`, with that of every image whose id
    /// starts with the same three hex digits.
    public static func provenance(of image: ImageID) -> String { file(of: image, in: provenanceFolder, extension: "jsonl") }

    /// `<folder>/<shard>/<first three>.<extension>`: 4,096 files.
    private static func file(of image: ImageID, in folder: String, extension: String) -> String {
        "\(folder)/\(image.shard)/\(image.rawValue.prefix(3)).\(`extension`)"
    }

    /// The one file of rows before the sharded layout (and what the seed-csv export writes).
    public static let unshardedTrainCSV = "annotations/train.csv"
    /// The one provenance file before the sharded layout.
    static let unshardedProvenance = "annotations/images.jsonl"

    static let gitattributes = "annotations/**/*.csv merge=union\nannotations/**/*.jsonl merge=union\n*.png binary\n"

    /// The files of rows at `commit`, in either layout, with their contents, by path.
    static func trainFiles(at commit: String, _ git: Git) async throws -> [(path: String, content: String)] {
        try await git.files(at: commit, under: [unshardedTrainCSV, trainFolder + "/"])
    }

    /// The provenance files at `commit`, in either layout, with their contents, by path.
    static func provenanceFiles(at commit: String, _ git: Git) async throws -> [(path: String, content: String)] {
        try await git.files(at: commit, under: [unshardedProvenance, provenanceFolder + "/"])
    }
}
