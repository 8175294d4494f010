import AsyncHTTPClient
import DroverCore
import DroverDataset
import DroverGit
@testable import DroverServer
import DroverTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOFoundationEssentialsCompat
import NIOHTTP1
import Testing

/// The dataset commands of the real `drover` binary, against a running server and without one,
/// and the dataset's parts of the HTTP API.
@Suite struct DatasetCommandsTests {
    @Test func revertAndImportWhileTheServerRunsAndAfterItStops() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await ServerProcess(dataDirectory: directory.path)
        let generation = try await server.post("/api/generations", json: #"{"prompt": "an ox", "seed": 5}"#)
        let imageID = try #require((generation.body["images"] as? [[String: String]])?.first?["id"])
        let vote = try await server.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "mallory", "rating": "up"}"#)
        let mallory = try #require(vote.body["rater"] as? String)
        try await eventually("the vote's commit") { try await committedTrainRows(directory).count == 1 }

        // The server holds the dataset: the command records the revert and its committer commits it.
        let reverted = try await drover(["revert", "--rater", mallory, "--reason", "a bot"], dataDirectory: directory.path)
        #expect(reverted.hasPrefix("reverted 1 vote by rater \(mallory) in "))
        #expect(try await committedTrainRows(directory).isEmpty)
        let log = try await drover(["log", "--rater", mallory], dataDirectory: directory.path)
        #expect(log.split(separator: "\n").count == 2 && log.contains("Revert 1 vote by rater \(mallory): a bot"))
        #expect(server.terminate() == 0)

        // No server: the command commits itself.
        let csv = directory.path + "/more.csv"
        try Data("prompt,path,rating,rater,model_version\nan ox,\(datasetPath(imageID)),Disapprove,seed01,0-1\n".utf8).write(to: URL(filePath: csv))
        let imported = try await drover(["import", csv], dataDirectory: directory.path)
        #expect(imported.hasPrefix("imported 0 images and 1 vote in "))
        #expect(try await committedTrainRows(directory).count == 1)
        let shown = try await drover(["show", "HEAD"], dataDirectory: directory.path)
        #expect(shown.contains("Import 1 vote from more.csv") && shown.contains("  + an ox,\(datasetPath(imageID)),Disapprove,seed01,0-1"))
        #expect(try await datasetGit(directory).run(["fsck", "--strict"]).isEmpty)
    }

    @Test func raterHashOptionUsesTheSeedTutorialsPseudonyms() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = try freePort()
        let server = Process()
        server.executableURL = URL(filePath: droverBinary)
        server.arguments = ["serve", "--rater-hash", "sha256-6"]
        server.environment = ProcessInfo.processInfo.environment.merging([
            "DROVER_DATA_DIR": directory.path, "DROVER_PORT": "\(port)", "LOG_LEVEL": "critical",
        ]) { $1 }
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        try await eventually("the server to answer") {
            (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(1)).status == .ok) == true
        }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/generations")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"prompt": "an ox"}"#))
        let generation = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try JSONSerialization.jsonObject(with: Data(buffer: try await generation.body.collect(upTo: 1 << 20))) as? [String: Any]
        let imageID = try #require((body?["images"] as? [[String: String]])?.first?["id"])
        request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/votes")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"image_id": "\#(imageID)", "rater": "U0AB", "rating": "up"}"#))
        let vote = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let voted = try JSONSerialization.jsonObject(with: Data(buffer: try await vote.body.collect(upTo: 1 << 20))) as? [String: Any]
        // python3 -c "import hashlib; print(hashlib.sha256(b'U0AB').hexdigest()[:6])"
        #expect(voted?["rater"] as? String == "7d6c7d")
    }

    @Test func statsAndPushStateAreServed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let remote = directory.path + "/remote.git"
        try await Command.run("git", ["init", "-q", "--bare", remote], in: directory.path)
        let app = try await buildApplication(try testConfiguration(directory, ["DROVER_DATASET_REMOTE": remote]), logger: testLogger)
        try await app.test(.live) { client in
            let generation = try await client.post("/api/generations", json: #"{"prompt": "an ox", "n": 2, "seed": 1}"#)
            let ids = try #require((try generation.json()["images"] as? [[String: String]])?.compactMap { $0["id"] })
            let unvoted = try await client.execute(uri: "/api/stats", method: .get).json()
            #expect((unvoted["agreement"] as? [String: Any])?["krippendorff_alpha"] is NSNull, "undefined is written as null, not left out")
            #expect((unvoted["model_versions"] as? [[String: Any]])?.first?["approval_rate"] is NSNull)
            for (rater, rating) in [("ann", "up"), ("bob", "down")] {
                _ = try await client.post("/api/votes", json: #"{"image_id": "\#(ids[0])", "rater": "\#(rater)", "rating": "\#(rating)"}"#)
            }
            try await eventually("both votes committed") { try await committedTrainRows(directory).count == 2 }
            let stats = try await client.execute(uri: "/api/stats", method: .get).json()
            let version = try #require((stats["model_versions"] as? [[String: Any]])?.first)
            #expect(version["images"] as? Int == 2 && version["votes"] as? Int == 2 && version["approval_rate"] as? Double == 0.5)
            #expect((version["approval_rate_95"] as? [String: Double])?["lower"] != nil)
            #expect((stats["raters"] as? [Any])?.count == 2)
            #expect((stats["agreement"] as? [String: Any])?["images"] as? Int == 1)
            let comparison = try await client.execute(uri: "/api/compare?a=0-1&b=0-2", method: .get).json()
            #expect(comparison["verdict"] as? String == "one_version_only")
            #expect((comparison["a"] as? [String: Any])?["votes"] as? Int == 2 && (comparison["b"] as? [String: Any])?["votes"] as? Int == 0)
            #expect((comparison["difference"] as? [String: Any])?["b_minus_a"] is NSNull)
            for bad in ["/api/compare?a=0-1", "/api/compare?a=0-1&b=0-1", "/api/compare?a=0-1&b=x&difference=3"] {
                #expect(try await client.execute(uri: bad, method: .get).status == .badRequest, "\(bad)")
            }

            let head = try await datasetGit(directory).run(["rev-parse", "HEAD"]).trimmingWhitespace()
            try await eventually("the push of HEAD") {
                let health = try await client.execute(uri: "/healthz", method: .get).json()
                let push = (health["dataset"] as? [String: Any])?["push"] as? [String: Any]
                return push?["last_pushed"] as? String == head
            }
            #expect(try await Git(directory: remote).run(["rev-parse", "main"]).trimmingWhitespace() == head)
        }
    }

    @Test func theRaterSaltIsReadableByItsOwnerOnly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let salt = try RaterSalt.load(configured: nil, dataDirectory: directory.path)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/rater-salt")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try RaterSalt.load(configured: nil, dataDirectory: directory.path) == salt, "generated once")
    }
}

/// The `drover` binary built beside the tests.
let droverBinary = ProcessInfo.processInfo.environment["DROVER_BIN"] ?? packageRoot.appending(path: ".build/debug/drover").path

/// Runs `drover <arguments>` on a data directory and returns what it printed.
func drover(_ arguments: [String], dataDirectory: String) async throws -> String {
    try await Command.run(droverBinary, arguments, in: dataDirectory, environment: [
        "DROVER_DATA_DIR": dataDirectory, "DROVER_RATER_SALT": "pepper", "LOG_LEVEL": "critical",
    ])
}
