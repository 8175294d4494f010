import DroverCore
import DroverGit
import Subprocess
import SystemPackage

/// Reads what the mirror sends out of the dataset's git history, never its working tree (the
/// committer may be writing it): the commits after the last one mirrored, which files changed,
/// and their bytes at a commit.
struct DatasetCommits: Sendable {
    /// One file's change between two commits.
    enum Change: Sendable, Equatable {
        case write(String)
        case delete(String)
    }

    let git: Git

    init(directory: String) {
        git = Git(directory: directory, readsIndex: false)
    }

    /// The commit `main` points to.
    func head() async throws -> String {
        try await git.run(["rev-parse", "--verify", "refs/heads/main^{commit}"]).trimmingWhitespace()
    }

    /// The commits on `main`'s first-parent line after `after` (all of them when `nil`) up to
    /// `head`, oldest first.
    func pending(after: String?, head: String) async throws -> [String] {
        let range = after.map { ["\($0)..\(head)"] } ?? [head]
        return try await git.run(["rev-list", "--first-parent", "--reverse"] + range + ["--"])
            .split(separator: "\n").map(String.init)
    }

    /// Whether git has `commit` and it is `descendant` or one of its ancestors.
    func isAncestor(_ commit: String, of descendant: String) async -> Bool {
        (try? await git.run(["merge-base", "--is-ancestor", commit, descendant])) != nil
    }

    /// The files that differ between `from` (the empty tree when `nil`) and `to`, in path order.
    func changes(from: String?, to: String) async throws -> [Change] {
        if let from {
            let output = try await git.run(["diff-tree", "-r", "-z", "--no-renames", "--name-status", from, to, "--"])
            var changes: [Change] = []
            let fields = output.split(separator: "\0", omittingEmptySubsequences: true)
            var index = 0
            while index + 1 < fields.count {
                let status = fields[index], path = String(fields[index + 1])
                changes.append(status == "D" ? .delete(path) : .write(path))
                index += 2
            }
            return changes
        }
        return try await files(at: to).map { .write($0) }
    }

    /// Every file of the commit, in path order.
    func files(at commit: String) async throws -> [String] {
        try await git.run(["ls-tree", "-r", "-z", "--name-only", commit, "--"]).split(separator: "\0").map(String.init)
    }

    /// Every file of the commit with its size in bytes.
    func sizes(at commit: String) async throws -> [String: Int] {
        var sizes: [String: Int] = [:]
        for line in try await git.run(["ls-tree", "-r", "-z", "-l", commit, "--"]).split(separator: "\0") {
            // <mode> SP <type> SP <object> SP+ <size> TAB <path>
            guard let tab = line.firstIndex(of: "\t"), let size = line[..<tab].split(separator: " ").last.flatMap({ Int($0) }) else { continue }
            sizes[String(line[line.index(after: tab)...])] = size
        }
        return sizes
    }

    /// The full message, author name and e-mail of a commit.
    func message(of commit: String) async throws -> (message: String, author: String, email: String) {
        let output = try await git.run(["log", "-1", "--format=%an%x00%ae%x00%B", commit, "--"])
        let parts = output.split(separator: "\0", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw MirrorError("git log: unexpected output for \(commit)") }
        return (String(parts[2]).trimmingWhitespace(), String(parts[0]), String(parts[1]))
    }

    /// `<short id> <subject>` of each commit in `after..upTo` on the first-parent line, oldest first.
    func subjects(after: String?, upTo commit: String, limit: Int) async throws -> [String] {
        let range = after.map { ["\($0)..\(commit)"] } ?? [commit]
        return try await git.run(["log", "--first-parent", "--reverse", "--format=%h %s", "-n", "\(limit)"] + range + ["--"])
            .split(separator: "\n").map(String.init)
    }

    /// A file's bytes at a commit.
    func bytes(of path: String, at commit: String, limit: Int = 1 << 30) async throws -> [UInt8] {
        let result = try await Subprocess.run(
            .name("git"),
            arguments: ["-c", "core.autocrlf=false", "cat-file", "blob", "\(commit):\(path)"],
            environment: .inherit.updating(["GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"]),
            workingDirectory: FilePath(git.directory),
            output: .bytes(limit: limit),
            error: .string(limit: 64 << 10)
        )
        guard result.terminationStatus.isSuccess else {
            throw MirrorError("git cat-file \(commit):\(path) failed (\(result.terminationStatus)): \((result.standardError ?? "").prefix(300))")
        }
        return result.standardOutput
    }
}
