/// Runs the git CLI in one repository, with settings that make it behave the same whatever the
/// user's configuration.
public struct Git: Sendable {
    /// The repository's working tree.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Runs `git <arguments>` and returns its standard output.
    /// - Throws: ``CommandError`` if git exits non-zero or cannot be started.
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil, outputLimit: Int = 64 << 20) async throws -> String {
        try await Command.run("git", Self.fixedOptions + arguments, in: directory, environment: Self.environment, input: input, outputLimit: outputLimit)
    }

    private static let fixedOptions = ["-c", "commit.gpgSign=false", "-c", "core.autocrlf=false", "-c", "core.quotePath=false"]

    private static let environment = [
        "GIT_AUTHOR_NAME": "Drover", "GIT_AUTHOR_EMAIL": "drover@localhost",
        "GIT_COMMITTER_NAME": "Drover", "GIT_COMMITTER_EMAIL": "drover@localhost",
        "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    ]
}
