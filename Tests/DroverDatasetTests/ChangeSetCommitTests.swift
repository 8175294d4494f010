import DroverGit
import DroverCore
@testable import DroverDataset
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing

/// How `drover revert` and `drover import` get their change set committed with one writer only.
@Suite struct ChangeSetCommitTests {
    @Test func withNoServerTheCommandCommitsItself() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ledger = try Ledger(path: directory.path + "/drover.sqlite")
        let root = directory.path + "/dataset"
        let image = try recordImage(in: ledger)
        try await ledger.database.write { db in
            _ = try Ledger.apply(VoteCommand(imageID: image, rater: "r1", choice: .up, source: .web, occurredAt: Date()), in: db)
        }
        let changeSet = try #require(try ledger.revert(.rater("r1"), reason: "spam").changeSet.id)
        let commits = try await Committer.commit(changeSet: changeSet, ledger: ledger, datasetDirectory: root, logger: testLogger)
        #expect(commits.count == 1)
        let git = Git(directory: root)
        #expect(try await git.run(["rev-parse", "HEAD"]).trimmingWhitespace() == commits.first)
        #expect(try await git.run(["log", "-1", "--format=%s"]) == "Revert 1 vote by rater r1: spam\n")
        #expect(try await git.committedTrainRows().isEmpty)
        _ = try await DatasetRepository.open(at: root)  // the command let go of the lock
    }

    @Test func withAServerRunningTheCommandWaitsForItsCommitter() async throws {
        let fixture = try await DatasetFixture()
        defer { fixture.directory.remove() }
        let image = try #require(try fixture.addImages(prompt: "an ox", count: 1).first)
        try fixture.vote(.up, by: "r1", on: image)
        let server = Committer(
            ledger: fixture.ledger, repository: fixture.repository, doorbell: Doorbell(), pollInterval: .milliseconds(100), logger: testLogger
        )
        try await withService(server) {
            try await eventually("the vote's commit") { try await fixture.committedRows().count == 1 }
            // Another process would open its own ledger; the server rang no bell for this change.
            let other = try Ledger(path: fixture.directory.path + "/drover.sqlite")
            let changeSet = try #require(try other.revert(.rater("r1"), reason: "spam").changeSet.id)
            let commits = try await Committer.commit(
                changeSet: changeSet, ledger: other, datasetDirectory: fixture.repository.directory, logger: testLogger
            )
            #expect(try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace() == commits.first)
            #expect(try await fixture.committedRows().isEmpty)
            #expect(server.status.commits == 2, "the image with the vote, then the revert: all by the server's committer")
        }
    }
}

/// Records one image with made-up PNG bytes.
func recordImage(in ledger: Ledger, prompt: String = "an ox", bytes: String = UUID().uuidString) throws -> ImageID {
    let generation = GenerationRecord(
        id: UUID().uuidString, prompt: prompt, negativePrompt: nil, steps: nil, guidanceScale: nil, width: 64, height: 64,
        model: "m", modelVersion: "0-1", backend: "procedural", requestedBy: "web", createdAt: Date()
    )
    let png = Data(bytes.utf8)
    return try ledger.record([generation], images: [
        ImageRecord(id: ImageID(pngBytes: png), generationID: generation.id, position: 0, seed: nil, png: png, postedTo: nil, createdAt: Date()),
    ])[0]
}

/// Runs `service` in a service group while `body` runs, then shuts it down gracefully.
func withService<Value: Sendable>(_ service: some Service, _ body: () async throws -> Value) async throws -> Value {
    let logger = testLogger
    let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        defer { tasks.cancelAll() }
        do {
            let value = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.next()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}
