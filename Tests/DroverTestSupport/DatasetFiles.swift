import DroverCore
import DroverGit

extension Git {
    /// The rows of the dataset's `annotations/train/` files at `revision`, each file's header
    /// dropped, files in path order (by shard) and rows in their order within each.
    public func committedTrainRows(at revision: String = "HEAD") async throws -> [String] {
        try await committedLines(under: "annotations/train/", at: revision, droppingHeaders: true)
    }

    /// The lines of the dataset's provenance files (`annotations/images/`) at `revision`.
    public func committedProvenance(at revision: String = "HEAD") async throws -> [String] {
        try await committedLines(under: "annotations/images/", at: revision, droppingHeaders: false)
    }

    /// The header of the dataset's `annotations/train/` files at `revision`, if all agree.
    public func committedTrainHeader(at revision: String = "HEAD") async throws -> String? {
        let headers = Set(try await files(at: revision, under: ["annotations/train/"]).map { $0.content.split(separator: "\n").first.map(String.init) ?? "" })
        return headers.count == 1 ? headers.first : nil
    }

    private func committedLines(under folder: String, at revision: String, droppingHeaders: Bool) async throws -> [String] {
        try await files(at: revision, under: [folder]).flatMap { file in
            file.content.split(separator: "\n").dropFirst(droppingHeaders ? 1 : 0).map(String.init)
        }
    }
}

/// ``ImageID/datasetPath`` of an id the test holds as text or as an ``ImageID``.
public func datasetPath(_ id: some CustomStringConvertible) -> String {
    ImageID(validating: id.description)?.datasetPath ?? "not an image id: \(id)"
}
