import DroverGit
import DroverTestSupport
import Foundation
import Testing

/// `drover train` with the real trainer (`workers/trainer`) on a tiny random pipeline: the
/// export at a pinned commit reaches the trainer, and bad input stops before any training.
@Suite struct TrainCommandTests {
    /// A data directory whose dataset has two images of one prompt, one approved and one
    /// disapproved by three raters: one preference pair.
    private func seededData(_ directory: TemporaryDirectory) async throws -> String {
        let data = directory.path + "/data"
        let server = try await ServerProcess(dataDirectory: data)
        defer { _ = server.terminate() }
        let generation = try await server.post("/api/generations", json: #"{"prompt": "an ox", "n": 2, "seed": 9}"#)
        let ids = try #require((generation.body["images"] as? [[String: String]])?.compactMap { $0["id"] })
        for rater in ["ann", "bob", "cat"] {
            for (id, rating) in zip(ids, ["up", "down"]) {
                #expect(try await server.post("/api/votes", json: #"{"image_id": "\#(id)", "rater": "\#(rater)", "rating": "\#(rating)"}"#).status == 202)
            }
        }
        let git = Git(directory: data + "/dataset")
        try await eventually("six votes committed") { try await git.committedTrainRows().count == 6 }
        return data
    }

    private func train(_ arguments: [String], data: String) async throws -> String {
        try await Command.run(
            droverBinary, ["train", "--trainer", packageRoot.path + "/workers/trainer", "--python", try testPython()] + arguments,
            in: packageRoot.path, environment: ["DROVER_DATA_DIR": data, "LOG_LEVEL": "critical", "HF_HUB_OFFLINE": "1"]
        )
    }

    @Test func aDryRunShowsWhatTheTrainerWouldUse() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try await seededData(directory)
        try await WorkerProcess.saveTinyPipeline(to: directory.path + "/tiny-sd")
        let head = try await Git(directory: data + "/dataset").run(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)

        let output = try await train(
            ["--method", "dpo", "--base", directory.path + "/tiny-sd", "--out", directory.path + "/adapter", "--dry-run", "--", "--min-examples", "1"],
            data: data
        )
        #expect(output.contains("exported 1 pair of commit \(head.prefix(10))"))
        #expect(output.contains(#""Pairs used" : 1"#) && output.contains(#""method" : "dpo""#), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/adapter"), "a dry run writes nothing")
    }

    @Test func badInputStopsBeforeTraining() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = try await seededData(directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/full", withIntermediateDirectories: true)
        try Data().write(to: URL(filePath: directory.path + "/full/something"))
        await #expect(throws: CommandError.self) {
            try await train(["--method", "kto", "--base", directory.path, "--out", directory.path + "/full"], data: data)
        }
        // A directory that is not a Stable Diffusion pipeline: the trainer's own check, as one line.
        do {
            _ = try await train(["--method", "dpo", "--base", directory.path, "--out", directory.path + "/adapter", "--", "--min-examples", "1"], data: data)
            Issue.record("training on a directory that is no pipeline succeeded")
        } catch let error as CommandError {
            #expect(error.message.contains("is not a diffusers pipeline"), "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/adapter"))
    }
}
