import DroverGit
import AsyncHTTPClient
import DroverDataset
import DroverTestSupport
import Foundation
import NIOCore
import NIOHTTP1

/// The bundled diffusers worker (`python -m drover_worker`) as a child process on 127.0.0.1,
/// serving a tiny random Stable Diffusion pipeline on the CPU; nothing is downloaded.
final class WorkerProcess {
    static let root = packageRoot.appending(path: "workers/diffusers").path
    /// Offline, one OpenMP thread (two spin against each other on a small machine), unbuffered output.
    static let environment = [
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    ]

    let url: String
    private let process = Process()
    private let logPath: String

    /// Builds the tiny pipeline with the worker's own `drover_worker/synthetic.py` and saves it to `directory`.
    static func saveTinyPipeline(to directory: String) async throws {
        let script = "import sys; from drover_worker.synthetic import save_tiny_pipeline; save_tiny_pipeline(sys.argv[1])"
        try await Command.run(try testPython(), ["-c", script, directory], in: root, environment: environment)
    }

    /// Saves a random LoRA adapter for the tiny pipeline to `directory`, as the trainer saves one.
    static func saveRandomAdapter(to directory: String, seed: Int) async throws {
        let script = """
            import sys; from drover_worker.synthetic import build_tiny_pipeline, save_random_lora
            save_random_lora(build_tiny_pipeline(sys.argv[1] + '-work'), sys.argv[1], seed=int(sys.argv[2]))
            """
        try await Command.run(try testPython(), ["-c", script, directory, "\(seed)"], in: root, environment: environment)
    }

    /// Starts the worker on `model`, with `arguments` after the standard ones; its output goes to `logPath`.
    init(model: String, arguments: [String] = [], logPath: String) throws {
        let port = try freePort()
        url = "http://127.0.0.1:\(port)"
        self.logPath = logPath
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw TimedOut(description: "cannot create the worker's log \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(filePath: logPath))
        process.executableURL = URL(filePath: try testPython())
        process.arguments = ["-m", "drover_worker", "--model", model, "--device", "cpu", "--host", "127.0.0.1", "--port", "\(port)"] + arguments
        process.currentDirectoryURL = URL(filePath: Self.root)
        process.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// Waits until `/healthz` answers 200 and returns it, failing at once if the worker exits.
    func waitUntilReady(timeout: Duration) async throws -> [String: Any] {
        try await eventually("the worker's /healthz", timeout: timeout) { [process, url, logPath] in
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw TimedOut(description: "the worker exited (\(process.terminationStatus)):\n\(log.suffix(2_000))")
            }
            let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/healthz"), timeout: .seconds(2))
            return response?.status == .ok
        }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/healthz"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
    }

    /// `kill -9` by its own pid, then reaps it.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
