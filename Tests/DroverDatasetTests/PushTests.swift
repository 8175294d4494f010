import DroverGit
import DroverCore
@testable import DroverDataset
import DroverStore
import DroverTestSupport
import Foundation
import Logging
import Testing

@Suite struct PushTests {
    @Test func commitsArePushedInTheBackground() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        let remote = fixture.directory.path + "/remote.git"
        try await Command.run("git", ["init", "-q", "--bare", remote], in: fixture.directory.path)
        let pusher = DatasetPusher(directory: fixture.repository.directory, remote: remote, logger: testLogger)
        let committer = Committer(
            ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), afterCommit: [pusher.doorbell], logger: testLogger
        )
        try await committer.reconcile()
        try await withService(pusher) {
            let image = try #require(try fixture.addImages(prompt: "an ox", count: 1).first)
            try fixture.vote(.up, by: "r1", on: image)
            try await committer.commitAll()
            let head = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
            try await eventually("the push of the commit") { pusher.status.lastPushed == head }
            #expect(try await Git(directory: remote).run(["rev-parse", "refs/heads/main"]).trimmingWhitespace() == head)
            #expect(pusher.status.failures == 0)
        }
    }

    @Test func aFailedPushIsRetriedAndNamesNoURL() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        let remote = fixture.directory.path + "/not-yet.git"
        let pusher = DatasetPusher(
            directory: fixture.repository.directory, remote: remote, maxBackoff: .milliseconds(200), logger: testLogger
        )
        try await withService(pusher) {
            try await eventually("a failed push") { pusher.status.failures >= 1 }
            let error = try #require(pusher.status.lastError)
            #expect(!error.contains("not-yet.git") && error.contains("<remote>"))
            try await Command.run("git", ["init", "-q", "--bare", remote], in: fixture.directory.path)
            try await eventually("a retry that works") { pusher.status.lastPushed != nil }
            #expect(pusher.status.failures == 0 && pusher.status.lastError == nil)
        }
    }
}
