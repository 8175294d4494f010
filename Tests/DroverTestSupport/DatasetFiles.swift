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
        var headers: Set<String> = []
        for path in try await files(under: "annotations/train/", at: revision) {
            headers.insert(try await run(["show", "\(revision):\(path)"]).split(separator: "\n").first.map(String.init) ?? "")
        }
        return headers.count == 1 ? headers.first : nil
    }

    private func files(under folder: String, at revision: String) async throws -> [String] {
        try await run(["ls-tree", "-r", "--name-only", revision, "--", folder]).split(separator: "\n").map(String.init)
    }

    private func committedLines(under folder: String, at revision: String, droppingHeaders: Bool) async throws -> [String] {
        try await committedFiles(under: folder, at: revision).flatMap { file in
            file.content.split(separator: "\n").dropFirst(droppingHeaders ? 1 : 0).map(String.init)
        }
    }

    /// The files under `folder` at `revision`, in path order, with their contents: one `git
    /// cat-file --batch` for all of them (a dataset's rows are in up to 4,096 files).
    public func committedFiles(under folder: String, at revision: String = "HEAD") async throws -> [(path: String, content: String)] {
        let paths = try await files(under: folder, at: revision)
        guard !paths.isEmpty else { return [] }
        let output = Array(try await run(["cat-file", "--batch"], input: paths.map { "\(revision):\($0)\n" }.joined(), outputLimit: 1 << 28).utf8)
        // Each: "<object> blob <size>\n<content>\n".
        var offset = 0
        return try paths.map { path in
            guard let newline = output[offset...].firstIndex(of: UInt8(ascii: "\n")),
                  let size = String(decoding: output[offset..<newline], as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }),
                  newline + 1 + size <= output.count
            else { throw GitWriteError("cannot read \(path) at \(revision)") }
            defer { offset = newline + 1 + size + 1 }
            return (path, String(decoding: output[newline + 1..<newline + 1 + size], as: UTF8.self))
        }
    }
}

/// ``ImageID/datasetPath`` of an id the test holds as text or as an ``ImageID``.
public func datasetPath(_ id: some CustomStringConvertible) -> String {
    ImageID(validating: id.description)?.datasetPath ?? "not an image id: \(id)"
}
