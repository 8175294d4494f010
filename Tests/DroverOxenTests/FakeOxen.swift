import AsyncHTTPClient
import DroverTestSupport
import Foundation
import NIOCore
import NIOHTTP1

/// `Tests/FakeOxen/fake_oxen.py` as a child process on 127.0.0.1 (its README is the spec). Its
/// stdin is a pipe: when the test process dies, the fake exits too.
final class FakeOxen: Sendable {
    static let token = "fake-oxen-token-7d1c"
    let port: Int
    let url: String
    private let process: Process
    private let stdin: Pipe

    init(token: String = FakeOxen.token) throws {
        process = Process()
        stdin = Pipe()
        let stdout = Pipe()
        process.executableURL = URL(filePath: try testPython())
        process.arguments = [
            packageRoot.appending(path: "Tests/FakeOxen/fake_oxen.py").path, "--port", "0", "--token", token, "--auto-create",
            "--exit-on-stdin-eof",
        ]
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { throw TimedOut(description: "the fake Oxen server exited before printing its port") }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)) else {
            throw TimedOut(description: "the fake Oxen server printed no port")
        }
        self.port = port
        url = "http://127.0.0.1:\(port)"
    }

    /// Closes its stdin and kills it. SIGKILL, because a child started from a test thread may
    /// inherit a signal mask that blocks SIGTERM (seen: the fake outlived its test); its state is
    /// in memory, so nothing is lost. Not waited for: `Process.waitUntilExit` spins when another
    /// reaper collected the exit.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }

    /// The settings for `DROVER_OXEN_*` that point at this fake.
    func environment(repo: String = "drover/dataset", token: String = FakeOxen.token) -> [String: String] {
        ["DROVER_OXEN_REPO": repo, "DROVER_OXEN_HOST": "127.0.0.1:\(port)", "DROVER_OXEN_SCHEME": "http", "DROVER_OXEN_TOKEN": token]
    }

    // MARK: - Reading it back

    func request(_ method: HTTPMethod = .GET, _ path: String, json: String? = nil, authorized: Bool = true) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if authorized { request.headers.add(name: "Authorization", value: "Bearer \(Self.token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 << 20)
        return (Int(response.status.code), Array(body.readableBytesView))
    }

    func json(_ path: String) async throws -> [String: Any] {
        let (_, body) = try await request(.GET, path)
        return try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] ?? [:]
    }

    /// A file's bytes on `branch`; `nil` if it is not there.
    func file(_ path: String, repo: String = "drover/dataset", branch: String = "main") async throws -> [UInt8]? {
        let (status, body) = try await request(.GET, "/api/repos/\(repo)/file/\(branch)/\(path)")
        return status == 200 ? body : nil
    }

    /// Every commit of the branch, newest first: (id, message).
    func history(repo: String = "drover/dataset", branch: String = "main") async throws -> [(id: String, message: String)] {
        let reply = try await json("/api/repos/\(repo)/commits/history/\(branch)?page=1&page_size=100000")
        return (reply["commits"] as? [[String: Any]] ?? []).map { ($0["id"] as? String ?? "", $0["message"] as? String ?? "") }
    }

    /// Adds faults (`POST /_fake/faults`).
    func fault(_ json: String) async throws {
        let (status, _) = try await request(.POST, "/_fake/faults", json: json, authorized: false)
        guard status == 200 else { throw TimedOut(description: "the fake refused the fault \(json): \(status)") }
    }

    /// The faults not yet used up.
    func pendingFaults() async throws -> Int {
        let (_, body) = try await request(.GET, "/_fake/faults", authorized: false)
        let value = try JSONSerialization.jsonObject(with: Data(body))
        return ((value as? [String: Any])?["faults"] as? [Any] ?? value as? [Any] ?? []).count
    }

    /// `GET /_fake/stats`.
    func stats() async throws -> [String: Any] {
        try await json("/_fake/stats")
    }

    /// `POST /_fake/reset`.
    func reset() async throws {
        _ = try await request(.POST, "/_fake/reset", authorized: false)
    }
}
