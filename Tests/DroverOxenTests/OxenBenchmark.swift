import DroverGit
import DroverOxen
import DroverServer
import HummingbirdTesting
import DroverTestSupport
import Foundation
import Testing

/// The cost of mirroring to the fake (benchmarks/oxen/README.md). Runs only with
/// `DROVER_OXEN_BENCH=1`; `DROVER_OXEN_BENCH_VOTES` (default 200) votes mirrored one Oxen commit
/// each, and `DROVER_OXEN_BENCH_BACKLOG` (default 2000) votes mirrored as one backlog.
@Suite struct OxenBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["DROVER_OXEN_BENCH"] != nil
    static func count(_ key: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[key].flatMap(Int.init) ?? fallback
    }

    @Test(.enabled(if: enabled)) func costPerVoteAndBacklog() async throws {
        let votes = Self.count("DROVER_OXEN_BENCH_VOTES", 200)
        let backlog = Self.count("DROVER_OXEN_BENCH_BACKLOG", 2_000)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let oxen = try FakeOxen()
        defer { oxen.stop() }

        // A backlog: `backlog` votes as fast as the app takes them, then one catch-up.
        try await makeVotes(directory, votes: backlog)
        let catchUp = try mirrorOf(directory, oxen)
        let backlogStarted = ContinuousClock.now
        let caughtUp = try await catchUp.mirrorPending()
        let backlogTime = ContinuousClock.now - backlogStarted
        let backlogStats = try await oxen.stats()
        await catchUp.shutdown()

        // Per vote, on top of that table: one dataset commit per vote, one Oxen commit each
        // (the first of them adds an image).
        try await makeCommits(directory, votes: votes)
        try await oxen.reset()
        let mirror = try mirrorOf(directory, oxen, maxCommitsPerMirror: 1)
        let started = ContinuousClock.now
        let mirrored = try await mirror.mirrorPending()
        let perVoteTime = (ContinuousClock.now - started) / mirrored
        let perVote = try await oxen.stats()
        await mirror.shutdown()

        func total(_ stats: [String: Any], _ key: String) -> Int { stats[key] as? Int ?? 0 }
        print("""
            OXEN-BENCH per-vote: votes=\(mirrored) requests/vote=\(Double(total(perVote, "total_requests")) / Double(mirrored)) \
            bytes_in/vote=\(total(perVote, "total_bytes_in") / mirrored) bytes_out/vote=\(total(perVote, "total_bytes_out") / mirrored) \
            time/vote=\(perVoteTime) requests=\(perVote["requests"] ?? "")
            OXEN-BENCH backlog: votes=\(backlog) git_commits=\(caughtUp) time=\(backlogTime) requests=\(total(backlogStats, "total_requests")) \
            bytes_in=\(total(backlogStats, "total_bytes_in")) bytes_out=\(total(backlogStats, "total_bytes_out"))
            """)
        #expect(mirrored == votes + 1 && caughtUp > 0)
    }
}

/// `votes` votes through the real app as fast as it takes them, then waits for their commits.
func makeVotes(_ directory: TemporaryDirectory, votes: Int) async throws {
    let app = try await buildApplication(try configuration(directory), logger: testLogger)
    try await app.test(.live) { client in
        let images = try await generate(client, prompt: "a backlog of oxen", n: 4)
        for index in 0..<votes {
            try await vote(client, image: images[index % 4], rater: "backlog-\(index / 4)", rating: index % 3 == 2 ? "down" : "up")
        }
        try await eventually("the backlog's commits", timeout: .seconds(600)) {
            try await Git(directory: directory.path + "/dataset").committedTrainRows().count >= votes
        }
    }
}
