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
        git = Git(directory: directory, readsIndex: false)
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
        guard let detail = try await show(commits: [sha], listing: limit).first else { throw ExportError("cannot read commit \(sha)") }
        return detail
    }

    /// Commits (full hashes) as ``show(_:listing:)`` shows them, in the order given, read by three
    /// git processes however many there are: a page of history costs about what one commit does.
    public func show(commits shas: [String], listing limit: Int = 5_000) async throws -> [DatasetCommitDetail] {
        guard !shas.isEmpty else { return [] }
        let rows = [DatasetLayout.unshardedTrainCSV, DatasetLayout.trainFolder]
        let log = ["log", "--no-walk=unsorted", "--no-renames", "--diff-merges=first-parent"]
        // Each commit: \u{1e} hash \u{1f} parents \u{1f} date \u{1f} message \u{1d}, then its
        // changed files (":<modes> <objects> <status>\t<path>"); meanwhile, the lines of rows each
        // changed ("<added>\t<removed>\t<path>"), counted for the rows alone: counting an image's
        // lines would read the image.
        async let changes = git.run(log + ["--format=%x1e%H%x1f%P%x1f%cI%x1f%B%x1d", "--raw"] + shas + ["--"], outputLimit: 1 << 30)
        async let rowCounts = git.run(log + ["--format=%x1e%H", "--numstat"] + shas + ["--"] + rows, outputLimit: 1 << 30)
        var changedRowLines: [String: Int] = [:]
        for record in try await rowCounts.split(separator: "\u{1e}") {
            let lines = record.split(separator: "\n")
            guard let sha = lines.first else { continue }
            changedRowLines[String(sha)] = lines.dropFirst().reduce(0) { total, line in
                let counts = line.split(separator: "\t", maxSplits: 2)
                return total + (counts.count == 3 ? (Int(counts[0]) ?? 0) + (Int(counts[1]) ?? 0) : 0)
            }
        }
        var details: [DatasetCommitDetail] = []
        for record in try await changes.split(separator: "\u{1e}") {
            guard let end = record.firstIndex(of: "\u{1d}") else { continue }
            let fields = record[..<end].split(separator: "\u{1f}", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4 else { throw ExportError("cannot read commit \(fields.first ?? "")") }
            var images: [String] = []
            for line in record[record.index(after: end)...].split(separator: "\n") {
                let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
                if line.hasPrefix(":"), parts.count == 2, parts[0].hasSuffix(" A"), parts[1].hasPrefix("images/") {
                    images.append(String(parts[1]))
                }
            }
            let rowLines = changedRowLines[fields[0], default: 0]
            details.append(DatasetCommitDetail(
                sha: fields[0], parents: fields[1].split(separator: " ").map(String.init), date: fields[2],
                message: fields[3].trimmingWhitespace(), addedRows: [], removedRows: [], addedImages: Array(images.prefix(limit)),
                rowsNotListed: rowLines > limit ? rowLines : 0, imagesNotListed: max(0, images.count - limit)
            ))
        }
        guard details.map(\.sha) == shas else { throw ExportError("cannot read commits \(shas.map { $0.prefix(10) }.joined(separator: " "))") }
        // The rows of those with few enough, by one `git diff-tree --stdin` ("<commit> <first
        // parent>" a line; a root commit alone): each commit's hash on a line, then its diff.
        let listed = details.indices.filter { details[$0].rowsNotListed == 0 }
        guard !listed.isEmpty else { return details }
        let input = listed.map { ([details[$0].sha] + details[$0].parents.prefix(1)).joined(separator: " ") + "\n" }.joined()
        let diff = try await git.run(
            ["diff-tree", "--stdin", "--root", "-p", "-U0", "--no-color", "--no-ext-diff", "--no-renames", "--"] + rows, input: input, outputLimit: 1 << 30
        )
        let index = Dictionary(uniqueKeysWithValues: listed.map { (details[$0].sha, $0) })
        let header = CSV.line(TrainingRow.columns).dropLast()
        var current: Int?
        for line in diff.split(separator: "\n") {
            if let commit = index[String(line)] {
                current = commit
            } else if let current, !line.hasPrefix("+++"), !line.hasPrefix("---"), line.dropFirst() != header {
                if line.hasPrefix("+") { details[current].addedRows.append(String(line.dropFirst())) }
                if line.hasPrefix("-") { details[current].removedRows.append(String(line.dropFirst())) }
            }
        }
        return details
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
