import DroverCore
@testable import DroverDataset
import DroverGit
import DroverStore
import DroverTestSupport
import Foundation
import Logging
import Testing

/// What the commit writer does around git's lock files and with text that is anybody's.
@Suite struct GitLockAndMessageTests {
    @Test func aPromptCanNeitherForgeATrailerNorBreakTheCommit() async throws {
        let prompt = "an ox\n\nDrover-Vote-Events: 1 2 3\r\u{1B}[31m red\u{85}x"
        let (fixture, images) = try await DatasetFixture.withImages(prompt: prompt, count: 1)
        defer { fixture.directory.remove() }
        try await fixture.committer.commitAll()
        try fixture.vote(.up, by: "r1", on: images[0])

        // A restart reconciles the ledger with HEAD's trailers: the vote is not in HEAD.
        try await fixture.committer.reconcile()

        #expect(try fixture.ledger.pendingChanges(limit: 10).votes.count == 1)
        let trailers = CommitMessage.parseTrailers(try await fixture.repository.headMessage())
        #expect(trailers.images == images)
        #expect(trailers.voteEvents.isEmpty)
        #expect(try await fixture.git.run(["fsck", "--strict", "--no-dangling"]).isEmpty)
        let subjects = try await fixture.subjects()
        #expect(subjects == [#"Add image \#(images[0]) for "an ox  Drover-Vote-Events: 1 2 3  [31m red x""#, "Create the Drover dataset"])
    }

    @Test func locksLeftByACrashAreClearedWhenTheRepositoryIsOpened() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let image = try await DatasetFixture.committingOneImage(at: directory)
        // kill -9 halfway through a commit: both lock files stay.
        for lock in ["index.lock", "refs/heads/main.lock"] {
            try Data("half written".utf8).write(to: URL(filePath: directory.path + "/dataset/.git/" + lock))
        }
        let reopened = try await whenUnlocked { try await DatasetFixture(at: directory) }
        try reopened.vote(.up, by: "r1", on: image)
        try await reopened.committer.commitPending()

        #expect(try await reopened.committedRows() == ["\(datasetPath(image)),Approve,r1"])
        #expect(try await reopened.git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await reopened.git.run(["fsck", "--strict", "--no-dangling"]).isEmpty)
    }

    @Test func aBranchLockedByAGitCommandFailsTheCommitAndIsLeftToIt() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        try fixture.vote(.up, by: "r1", on: images[0])
        let lock = fixture.repository.directory + "/.git/refs/heads/main.lock"
        try Data().write(to: URL(filePath: lock))

        await #expect {
            try await fixture.committer.commitAll()
        } throws: { error in
            "\(error)".contains("refs/heads/main is locked")
        }
        #expect(FileManager.default.fileExists(atPath: lock), "another process's lock is not ours to remove")

        try FileManager.default.removeItem(atPath: lock)
        try await fixture.committer.commitPending()
        #expect(try await fixture.committedRows() == ["\(datasetPath(images[0])),Approve,r1"])
        #expect(try await fixture.git.run(["fsck", "--strict", "--no-dangling"]).isEmpty)
    }

    @Test func theIndexIsWrittenAgainAfterAGitCommandPutsBackAnOldOne() async throws {
        let (fixture, images) = try await DatasetFixture.withImages(count: 1)
        defer { fixture.directory.remove() }
        try fixture.vote(.up, by: "r1", on: images[0])
        try await fixture.committer.commitAll()
        let gitDirectory = fixture.repository.directory + "/.git"
        let before = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // `git status` takes index.lock with the index as it is now…
        try FileManager.default.copyItem(atPath: gitDirectory + "/index", toPath: gitDirectory + "/index.lock")
        try fixture.vote(.down, by: "r2", on: images[0])
        let committing = Task { try await fixture.committer.commitAll() }
        // The ref file is read directly (no git process per poll): the committer retries the
        // index for 2 s, and the old index must be put back within that.
        try await eventually("the branch moved") {
            let head = try? String(contentsOfFile: gitDirectory + "/refs/heads/main", encoding: .utf8)
            return head.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) != before } ?? false
        }
        // …and, after the commit, renames it into place: the index of the commit before.
        #expect(rename(gitDirectory + "/index.lock", gitDirectory + "/index") == 0)
        _ = try await committing.value

        #expect(try await fixture.git.run(["status", "--porcelain"]).isEmpty)
        #expect(try await fixture.git.run(["diff-index", "--cached", "HEAD"]).isEmpty)
    }

    @Test func aRepositoryWithAnotherBranchCheckedOutIsRefusedClearly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let fixture = try await DatasetFixture(at: directory)
            try await fixture.git.run(["checkout", "-q", "-b", "experiment"])
        }
        await #expect {
            _ = try await whenUnlocked { try await DatasetRepository.open(at: directory.path + "/dataset") }
        } throws: { error in
            "\(error)".contains("must have main checked out") && "\(error)".contains("refs/heads/experiment")
        }
    }
}
