import DroverCore
import DroverGit
import FoundationEssentials

extension DatasetHistory {
    /// The full hashes of `limit` commits of `main`'s history, newest first, after skipping `skip`.
    public func commitHashes(skip: Int, limit: Int) async throws -> [String] {
        try await git.run(["rev-list", "--skip=\(skip)", "--max-count=\(limit)", "HEAD"]).split(separator: "\n").map(String.init)
    }

    /// The committer dates (ISO 8601, as git prints them) of every commit made at or after `start`, newest first.
    public func commitDates(since start: Date) async throws -> [String] {
        let since = Int(start.timeIntervalSince1970)
        return try await git.run(["log", "--since=@\(since)", "--format=%cI"]).split(separator: "\n").map(String.init)
    }

    /// How many commits `HEAD` has that `base` does not: for a pushed commit, those not pushed yet.
    public func commitCount(after base: String) async throws -> Int {
        let base = try await resolve(base)
        return Int(try await git.run(["rev-list", "--count", "\(base)..HEAD"]).trimmingWhitespace()) ?? 0
    }
}
