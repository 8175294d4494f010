/// Runs the git CLI in one repository, with settings that make it behave the same whatever the
/// user's configuration.
public struct Git: Sendable {
    /// The repository's working tree.
    public let directory: String
    private let environment: [String: String]

    /// - Parameter readsIndex: `false` for a reader of commits only, whose git then sees an empty
    ///   index (`GIT_INDEX_FILE` naming no file): a diff looks up each path's attributes in the
    ///   `.gitattributes` of every folder above it, and in `.git/index` for the folders that have
    ///   none in the working tree — 100 MB to load at a million images, 140 ms of every diff.
    ///   The dataset's one `.gitattributes`, at its root, is read from the working tree either way.
    public init(directory: String, readsIndex: Bool = true) {
        self.directory = directory
        self.environment = readsIndex ? Self.fixedEnvironment : Self.fixedEnvironment.merging(["GIT_INDEX_FILE": directory + "/.git/drover-no-index"]) { $1 }
    }

    /// Runs `git <arguments>` and returns its standard output.
    /// - Throws: ``CommandError`` if git exits non-zero or cannot be started.
    @discardableResult
    public func run(_ arguments: [String], input: String? = nil, outputLimit: Int = 64 << 20) async throws -> String {
        try await Command.run("git", Self.fixedOptions + arguments, in: directory, environment: environment, input: input, outputLimit: outputLimit)
    }

    /// The files under `pathspecs` at `commit`, in path order, with their contents: `git ls-tree`,
    /// then one `git cat-file --batch` for all of them, however many there are.
    public func files(at commit: String, under pathspecs: [String]) async throws -> [(path: String, content: String)] {
        let paths = try await run(["ls-tree", "-r", "-z", "--name-only", commit, "--"] + pathspecs).split(separator: "\0").map(String.init)
        guard !paths.isEmpty else { return [] }
        let output = Array(try await run(["cat-file", "--batch"], input: paths.map { "\(commit):\($0)\n" }.joined(), outputLimit: 1 << 31).utf8)
        // Each: "<object> blob <size>\n<content>\n".
        var offset = 0
        return try paths.map { path in
            guard let newline = output[offset...].firstIndex(of: UInt8(ascii: "\n")),
                  let size = String(decoding: output[offset..<newline], as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }),
                  newline + 1 + size <= output.count
            else { throw GitWriteError("cannot read \(path) at \(commit.prefix(10))") }
            defer { offset = newline + 1 + size + 1 }
            return (path, String(decoding: output[newline + 1..<newline + 1 + size], as: UTF8.self))
        }
    }

    private static let fixedOptions = ["-c", "commit.gpgSign=false", "-c", "core.autocrlf=false", "-c", "core.quotePath=false"]

    /// The user's global and system configuration are not read (a `~/.gitconfig` with
    /// `core.autocrlf`, `init.defaultRefFormat = reftable`, hooks or signing must not change the
    /// dataset); the repository's own `.git/config` still is.
    private static let fixedEnvironment = [
        "GIT_AUTHOR_NAME": "Drover", "GIT_AUTHOR_EMAIL": "drover@localhost",
        "GIT_COMMITTER_NAME": "Drover", "GIT_COMMITTER_EMAIL": "drover@localhost",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    ]

    /// Creates the repository on branch `main` with SHA-1 objects and files refs, the format
    /// ``CommitWriter`` writes — pinned, so that a newer git's defaults cannot change it.
    public func initialize() async throws {
        // git 2.45 added --ref-format; older versions know only files refs.
        let version = try await run(["version"]).split(separator: " ").last.map { $0.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) } }
        let knowsRefFormats = (version ?? []).lexicographicallyPrecedes([2, 45]) == false
        try await run(["init", "-q", "-b", "main", "--object-format=sha1"] + (knowsRefFormats ? ["--ref-format=files"] : []))
    }
}
