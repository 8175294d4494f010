import DroverCore
import DroverGenerators
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Drover with `DROVER_GENERATOR=openai` pointed at the real bundled worker (a tiny random pipeline
/// on the CPU): generate through the JSON API, vote, and read the commits and provenance back.
@Suite(.timeLimit(.minutes(10))) struct WorkerEndToEndTests {
    @Test func generateAndVoteThroughTheBundledWorker() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = directory.path + "/tiny-sd"
        try await WorkerProcess.saveTinyPipeline(to: model)
        let worker = try WorkerProcess(model: model, logPath: directory.path + "/worker.log")
        defer { worker.kill() }
        let workerHealth = try await worker.waitUntilReady(timeout: .seconds(300))
        let workerModel = try #require(workerHealth["model"] as? String)
        #expect(workerModel == model)

        let configuration = try testConfiguration(directory, ["DROVER_GENERATOR": "openai", "DROVER_GENERATOR_URL": worker.url])
        let app = try await buildApplication(configuration, logger: testLogger)
        let alice = RaterPseudonymizer(salt: Array("pepper".utf8)).pseudonym(team: "web", user: "alice")
        try await app.test(.live) { client in
            let generation = try await client.post(
                "/api/generations",
                json: #"{"prompt": "a fluffy ox", "n": 2, "seed": 4242, "steps": 2, "width": 64, "height": 80}"#
            )
            #expect(generation.status == .created)
            let images = try #require(try generation.json()["images"] as? [[String: String]])
            let ids = images.compactMap { $0["id"] }
            try #require(ids.count == 2)

            let png = Array(buffer: try await client.execute(uri: "/images/\(ids[0]).png", method: .get).body)
            #expect(ImageID(pngBytes: png).rawValue == ids[0])
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 24)
            #expect(Array(png[16..<24]) == [0, 0, 0, 64, 0, 0, 0, 80], "the IHDR says 64 × 80")
            try await eventually("the images' commit") { try await commitCount(directory) == 2 }

            let vote = try await client.post("/api/votes", json: #"{"image_id": "\#(ids[0])", "rater": "alice", "rating": "up"}"#)
            #expect(vote.status == .accepted)
            try await eventually("the vote's commit") { try await commitCount(directory) == 3 }
            #expect(try await committedTrainRows(directory).map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
                == ["a fluffy ox,\(datasetPath(ids[0])),Approve,\(alice),0-1"])

            let provenance = try await datasetGit(directory).committedProvenance()
                .map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            let byID = Dictionary(uniqueKeysWithValues: provenance.map { ($0["id"] as? String ?? "", $0) })
            #expect(byID.count == 2)
            for (position, id) in ids.enumerated() {
                let line = try #require(byID[id])
                #expect(line["backend"] as? String == "openai")
                #expect(line["model"] as? String == workerModel)
                #expect(line["seed"] as? Int == 4242 + position)
                #expect(line["steps"] as? Int == 2)
                #expect(line["guidance_scale"] as? Double == 7.5, "the worker's default, as it reports it")
                #expect(line["width"] as? Int == 64 && line["height"] as? Int == 80)
                #expect(line["prompt"] as? String == "a fluffy ox")
                #expect(line["path"] as? String == "\(datasetPath(id))")
                #expect(line["request_id"] as? String == (try generation.json()["request_id"] as? String))
            }
        }
        worker.kill()
        #expect(try await datasetGit(directory).run(["fsck", "--strict"]).isEmpty)
    }

    /// The loop's last step: a LoRA adapter served by the worker next to its base model is a model
    /// version in the models file, and the two share the blinded traffic.
    @Test func anAdapterIsAModelVersionBesideItsBase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let model = directory.path + "/tiny-sd"
        try await WorkerProcess.saveTinyPipeline(to: model)
        try await WorkerProcess.saveRandomAdapter(to: directory.path + "/adapters/dpo-1", seed: 1)
        let worker = try WorkerProcess(
            model: model, arguments: ["--served-model-name", "tiny-sd", "--lora", "dpo-1=\(directory.path)/adapters/dpo-1", "--default-steps", "2"],
            logPath: directory.path + "/worker.log"
        )
        defer { worker.kill() }
        _ = try await worker.waitUntilReady(timeout: .seconds(300))
        try """
            [[version]]
            name = "base"
            backend = "openai"
            url = "\(worker.url)"
            model = "tiny-sd"

            [[version]]
            name = "dpo-1"
            backend = "openai"
            url = "\(worker.url)"
            model = "dpo-1"
            """.write(toFile: directory.path + "/models.toml", atomically: true, encoding: .utf8)
        let configuration = try testConfiguration(directory)

        // What `drover models` asks: both are served; a name the worker does not serve is not.
        for version in configuration.generator.versions {
            try await makeGenerator(version.backend, timeout: .seconds(10)).checkHealth()
        }
        let missing = makeGenerator(.openai(.init(url: worker.url, model: "dpo-2", apiKey: nil)), timeout: .seconds(10))
        let error = await #expect(throws: (any Error).self) { try await missing.checkHealth() }
        #expect("\(error.map { "\($0)" } ?? "")".contains("does not serve the model dpo-2 (it serves: tiny-sd, dpo-1)"))

        let app = try await buildApplication(configuration, logger: testLogger)
        try await app.test(.live) { client in
            var ids: [String] = []
            for seed in [1, 2] {
                let made = try await client.post("/api/generations", json: #"{"prompt": "an ox", "n": 4, "seed": \#(seed * 10), "width": 64, "height": 64}"#)
                #expect(made.status == .created)
                ids += try #require(try made.json()["images"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            }
            try await eventually("the images committed") { [ids] in try await committedProvenance(directory).count == ids.count }
            let versions = try await committedProvenance(directory).values.map { ($0["model_version"] as? String ?? "", $0["model"] as? String ?? "") }
            #expect(Set(versions.map(\.0)).isSubset(of: ["base", "dpo-1"]))
            #expect(versions.allSatisfy { $0.0 == "dpo-1" ? $0.1 == "dpo-1" : $0.1 == "tiny-sd" }, "each image made by its version's model")
        }
    }
}
