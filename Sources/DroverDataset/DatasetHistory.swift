import DroverGit
import DroverCore
import Foundation

/// One commit of the dataset, as `drover log` and `/api/commits` show it.
public struct DatasetCommit: Codable, Sendable, Equatable {
    public var sha: String
    public var subject: String
    /// ISO 8601, as git prints it.
    public var date: String
}

/// One commit in full, as `drover show` prints it.
public struct DatasetCommitDetail: Codable, Sendable, Equatable {
    public var sha: String
    public var parents: [String]
    /// ISO 8601, as git prints it.
    public var date: String
    public var message: String
    /// Rows the commit added, then those it removed (none listed when it changed more rows than
    /// the listing limit: see ``rowsNotListed``).
    public var addedRows: [String]
    public var removedRows: [String]
    /// Image paths the commit added, up to the listing limit.
    public var addedImages: [String]
    /// Lines of rows added and removed (headers included) when there were more than the listing
    /// limit and none are listed (moving a dataset to the sharded layout changes every row); else 0.
    public var rowsNotListed = 0
    /// Images added past the listing limit.
    public var imagesNotListed = 0
}

/// Read-only views of the dataset's history; safe while the committer writes.
public struct DatasetHistory: Sendable {
    let git: Git

    /// Reads the repository at `directory`.
    public init(directory: String) {
        git = Git(directory: directory)
    }

    /// The newest commits first.
    /// - Parameters:
    ///   - rater: only commits that change a vote of this rater (the pseudonym in the rows).
    ///   - image: only commits that add this image or change a vote on it.
    public func log(limit: Int, rater: String? = nil, image: ImageID? = nil) async throws -> [DatasetCommit] {
        var arguments = ["log", "-n", "\(limit)", "--format=%H%x1f%s%x1f%cI", "--extended-regexp", "--all-match"]
        if let rater { arguments += ["--grep", "rater \(Self.regexQuoted(rater))([ :]|$)"] }
        if let image { arguments += ["--grep", "image \(image.rawValue)"] }
        let output = try await git.run(arguments)
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\u{1f}", omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return DatasetCommit(sha: String(fields[0]), subject: String(fields[1]), date: String(fields[2]))
        }
    }

    /// The full hash of the commit `revision` names.
    /// - Throws: ``ExportError`` if it names no commit.
    public func resolve(_ revision: String) async throws -> String {
        guard !revision.hasPrefix("-"), !revision.isEmpty else { throw ExportError("\"\(revision)\" is not a revision") }
        do {
            return try await git.run(["rev-parse", "--verify", "--quiet", "\(revision)^{commit}"]).trimmingWhitespace()
        } catch {
            throw ExportError("no commit \"\(revision)\" in the dataset")
        }
    }

    /// A commit's message and what it changed in the rows and `images/` (for a merge, against
    /// its first parent).
    /// - Parameter limit: the most rows and images listed; a commit that changed more rows lists
    ///   none and says how many, so that a page of history stays quick however big a commit is.
    public func show(_ revision: String, listing limit: Int = 5_000) async throws -> DatasetCommitDetail {
        let sha = try await resolve(revision)
        let header = try await git.run(["show", "-s", "--format=%P%x1f%cI%x1f%B", sha])
        let fields = header.split(separator: "\u{1f}", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3 else { throw ExportError("cannot read commit \(sha)") }
        let parents = fields[0].split(separator: " ").map(String.init)
        let base = parents.first ?? Self.emptyTree
        let rows = [DatasetLayout.unshardedTrainCSV, DatasetLayout.trainFolder]
        // Lines changed per file, headers included: cheap next to listing a million rows.
        let changedLines = try await git.run(["diff", "--numstat", "--no-renames", base, sha, "--"] + rows).split(separator: "\n").reduce(0) { total, line in
            total + line.split(separator: "\t").prefix(2).reduce(0) { $0 + (Int($1) ?? 0) }
        }
        var added: [String] = []
        var removed: [String] = []
        var rowsNotListed = 0
        if changedLines > limit {
            rowsNotListed = changedLines
        } else {
            let diff = try await git.run(["diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", base, sha, "--"] + rows)
            let columns = CSV.line(TrainingRow.columns).dropLast()
            for line in diff.split(separator: "\n") where !line.hasPrefix("+++") && !line.hasPrefix("---") {
                if line.hasPrefix("+"), line.dropFirst() != columns { added.append(String(line.dropFirst())) }
                if line.hasPrefix("-"), line.dropFirst() != columns { removed.append(String(line.dropFirst())) }
            }
        }
        let images = try await git.run(["diff", "--name-only", "--no-renames", "--diff-filter=A", base, sha, "--", "images/"], outputLimit: 1 << 30)
            .split(separator: "\n")
        return DatasetCommitDetail(
            sha: sha, parents: parents, date: fields[1], message: fields[2].trimmingWhitespace(), addedRows: added, removedRows: removed,
            addedImages: images.prefix(limit).map(String.init), rowsNotListed: rowsNotListed, imagesNotListed: max(0, images.count - limit)
        )
    }

    /// git's empty tree, the base a root commit is compared with.
    static let emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    private static func regexQuoted(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

/// An export or a look-up that cannot be made; the message says why.
public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
