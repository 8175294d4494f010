import AsyncHTTPClient
import DroverTestSupport
import Foundation
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1

/// `drover serve` as a real child process on 127.0.0.1, for tests that kill it.
final class ServerProcess: @unchecked Sendable {
    let port: Int
    private let process = Process()

    /// Starts the binary built beside the tests and waits until `/healthz` answers.
    /// - Parameter logFile: where the server's standard output and error go (appended), if given.
    init(dataDirectory: String, environment: [String: String] = [:], logFile: String? = nil) async throws {
        port = try freePort()
        let binary = ProcessInfo.processInfo.environment["DROVER_BIN"] ?? packageRoot.appending(path: ".build/debug/drover").path
        process.executableURL = URL(filePath: binary)
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DROVER_DATA_DIR": dataDirectory, "DROVER_PORT": "\(port)", "DROVER_RATER_SALT": "pepper", "LOG_LEVEL": "critical",
        ].merging(environment) { $1 }) { $1 }
        if let logFile {
            if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(filePath: logFile))
            try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
        try await eventually("drover serve to answer /healthz") { [port] in
            (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(1)).status == .ok) == true
        }
    }

    /// Whether the process is still alive.
    var isRunning: Bool { process.isRunning }

    /// `kill -9`: no shutdown, no cleanup.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits for a graceful exit.
    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// POSTs `body` with `headers`; the status, or `nil` when no answer came within `timeout`
    /// (what Slack counts as a failed delivery).
    func deliver(_ path: String, body: String, headers: [(String, String)], timeout: Duration = .seconds(3)) async -> Int? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds)),
            (try? await response.body.collect(upTo: 1 << 20)) != nil
        else { return nil }
        return Int(response.status.code)
    }

    /// POSTs `json` and returns the status and body.
    func post(_ path: String, json: String) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw TimedOut(description: "cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
