import AsyncHTTPClient
import DroverCore
import DroverDataset
import DroverGit
import DroverOxen
import DroverTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `drover serve` as a child process, killed with SIGKILL while Oxen holds a commit whose answer
/// the server has not seen yet.
@Suite struct OxenKillTests {
    @Test func killNineMidMirrorThenRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let oxen = try FakeOxen()
        defer { oxen.stop() }
        // The commit lands, then `complete` hangs: the server is killed before it records.
        try await oxen.fault(#"{"route": "commits.complete", "delay_ms": 20000, "times": 1}"#)
        let first = try await ServeProcess(dataDirectory: directory.path, environment: oxen.environment())
        try await eventually("Oxen to hold the server's first commit") {
            try await oxen.history().contains { OxenMirror.mirroredCommit(in: $0.message) != nil }
        }
        first.kill()
        _ = try await oxen.request(.DELETE, "/_fake/faults", authorized: false)
        try await eventually("the killed server to let go of the dataset lock") {
            (try? DatasetLock.acquire(for: directory.path + "/dataset")) != nil  // and let go of it again at once
        }

        let second = try await ServeProcess(dataDirectory: directory.path, environment: oxen.environment())
        defer { second.kill() }
        let image = try await second.post("/api/generations", #"{"prompt": "an ox after a crash", "n": 1}"#)
        let id = try #require(((try JSONSerialization.jsonObject(with: Data(image)) as? [String: Any])?["images"] as? [[String: String]])?.first?["id"])
        for rater in ["alice", "bob", "carol"] {
            _ = try await second.post("/api/votes", #"{"image_id": "\#(id)", "rater": "\#(rater)", "rating": "up"}"#)
        }
        try await eventually("three votes in git and on Oxen", timeout: .seconds(60)) {
            let rows = try await Git(directory: directory.path + "/dataset").committedTrainRows().count
            let expected = try await head(directory)
            let health = try await second.json("/healthz")
            let mirrored = (health["dataset"] as? [String: Any])?["oxen"] as? [String: Any]
            return rows == 3 && mirrored?["last_mirrored"] as? String == expected && mirrored?["lag"] as? Int == 0
        }
        let trailers = try await oxen.history().compactMap { OxenMirror.mirroredCommit(in: $0.message) }
        #expect(trailers.count == Set(trailers).count, "a dataset commit reached Oxen twice: \(trailers)")
        let rows = DatasetLayout.trainCSV(of: try #require(ImageID(validating: id)))
        let expected = try await Git(directory: directory.path + "/dataset").run(["show", "HEAD:\(rows)"])
        #expect(try await oxen.file(rows) == Array(expected.utf8))
    }
}

/// `drover serve` (the binary built beside the tests) as a child process on 127.0.0.1.
final class ServeProcess: Sendable {
    let port: Int
    private let process: Process

    init(dataDirectory: String, environment: [String: String]) async throws {
        port = Int.random(in: 20_000...60_000)
        process = Process()
        process.executableURL = packageRoot.appending(path: ".build/debug/drover")
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DROVER_DATA_DIR": dataDirectory, "DROVER_PORT": "\(port)", "DROVER_RATER_SALT": "pepper", "LOG_LEVEL": "critical",
        ].merging(environment) { $1 }) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await eventually("drover serve to answer /healthz") { [port] in
            (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(1)).status == .ok) == true
        }
    }

    /// `kill -9`, then waits until the port no longer answers (not `waitUntilExit`, which can spin).
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    func post(_ path: String, _ json: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
    }

    func json(_ path: String) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
    }
}
