import DroverCore
import DroverGit
import FoundationEssentials

extension DatasetHistory {
    /// The full hashes of `limit` commits of `main`'s history, newest first, after skipping `skip`.
    public func commitHashes(skip: Int, limit: Int) async throws -> [String] {
        try await git.run(["rev-list", "--skip=\(skip)", "--max-count=\(limit)", "HEAD"]).split(separator: "\n").map(String.init)
    }

    /// The committer dates of every commit made at or after `start`, newest first. `rev-list
    /// --timestamp` reads them from git's commit-graph file, where there is one (`git gc` and
    /// the committer's packing write it), without opening the commits — whose messages can be
    /// megabytes: an import's names every change it holds.
    public func commitDates(since start: Date) async throws -> [Date] {
        let since = Int(start.timeIntervalSince1970)
        return try await git.run(["rev-list", "--since=@\(since)", "--timestamp", "HEAD"]).split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// How many commits `HEAD` has that `base` does not: for a pushed commit, those not pushed yet.
    public func commitCount(after base: String) async throws -> Int {
        let base = try await resolve(base)
        return Int(try await git.run(["rev-list", "--count", "\(base)..HEAD"]).trimmingWhitespace()) ?? 0
    }
}
