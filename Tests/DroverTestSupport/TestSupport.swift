import DroverCore
import DroverDataset
import DroverGit
import Foundation
import Logging

/// A fresh directory under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appending(path: "drover-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The condition did not become true in time.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Polls `condition` every 20 ms until it holds, failing after `timeout`.
public func eventually(
    _ what: String, timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimedOut(description: "timed out after \(timeout) waiting for \(what)")
}

/// The package's root directory.
public let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The Python interpreter with Pillow that the tests use as an independent decoder:
/// `DROVER_TEST_PYTHON`, or the project's `.venv` (the README's test command creates it).
public func testPython() throws -> String {
    if let configured = ProcessInfo.processInfo.environment["DROVER_TEST_PYTHON"] { return configured }
    let venv = packageRoot.appending(path: ".venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: venv) else {
        throw TimedOut(description: "no Python for the tests: run the README's test command (it creates .venv) or set DROVER_TEST_PYTHON")
    }
    return venv
}

/// Runs a Python script with `arguments` and returns what it printed.
public func runPython(_ script: String, _ arguments: [String] = []) async throws -> String {
    try await Command.run(try testPython(), ["-c", script] + arguments, in: packageRoot.path)
}

/// The tests' deterministic generator, so that a failing generated case can be replayed from its seed.
public typealias SplitMix = SplitMix64

/// The tests' logger: only critical messages, so that the errors tests provoke on purpose (a
/// failing backend, a refused request) stay out of the output and a real failure stands out.
/// Tests that check what is logged capture it themselves.
public let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()
