import DroverCore
import Subprocess
import SystemPackage

/// Runs an external program: every call checks the exit status and bounds the output.
public enum Command {
    /// Runs `executable` (a path, or a name looked up on `PATH`) and returns its standard output.
    /// - Parameters:
    ///   - directory: the working directory.
    ///   - environment: variables set or replaced for this call.
    ///   - input: written to standard input, if given.
    ///   - outputLimit: more standard output than this many bytes is an error.
    /// - Throws: ``CommandError`` if the program exits non-zero or cannot be started.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:],
        input: String? = nil, outputLimit: Int = 64 << 20
    ) async throws -> String {
        let result = try await Subprocess.run(
            executable.contains("/") ? .path(FilePath(executable)) : .name(executable),
            arguments: Arguments(arguments),
            environment: .inherit.updating(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })),
            workingDirectory: FilePath(directory),
            input: .string(input ?? ""),
            // Bytes, then one `String(decoding:)`: Subprocess's own `.string` decodes byte by
            // byte, which took seconds for the tens of megabytes `git ls-tree` prints for a
            // dataset of a million images.
            output: .bytes(limit: outputLimit),
            error: .string(limit: 64 << 10)
        )
        guard result.terminationStatus.isSuccess else {
            throw CommandError(
                command: "\(executable) \(arguments.first(where: { !$0.hasPrefix("-") }) ?? "")",
                status: "\(result.terminationStatus)", message: result.standardError
            )
        }
        return String(decoding: result.standardOutput, as: UTF8.self)
    }
}

/// A program that failed; the message is the program's own standard error, which holds no secret.
public struct CommandError: Error, CustomStringConvertible {
    public var command: String
    public var status: String
    public var message: String

    public var description: String {
        "\(command) failed (\(status)): \(message.trimmingWhitespace().prefix(500))"
    }
}
