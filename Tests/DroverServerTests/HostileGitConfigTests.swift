import DroverCore
import DroverDataset
import DroverGit
import DroverTestSupport
import Foundation
import Testing

/// The dataset is Drover's whatever the user's git configuration says: `drover serve` runs with
/// a `~/.gitconfig` (and an XDG one) that would sign commits with a missing key, convert line
/// endings, run hooks, name the first branch otherwise and ask for reftable refs.
@Suite struct HostileGitConfigTests {
    @Test func aHostileGlobalGitConfigChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let home = directory.path + "/home"
        let hooks = directory.path + "/hooks"
        try FileManager.default.createDirectory(atPath: home + "/.config/git", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        let hostile = """
            [init]
                defaultBranch = trunk
                defaultRefFormat = reftable
            [core]
                autocrlf = true
                hooksPath = \(hooks)
            [commit]
                gpgSign = true
            [user]
                signingKey = DEADBEEF
            [gpg]
                program = /nonexistent/gpg
            """
        try hostile.write(toFile: home + "/.gitconfig", atomically: true, encoding: .utf8)
        try hostile.write(toFile: home + "/.config/git/config", atomically: true, encoding: .utf8)
        for hook in ["pre-commit", "post-commit", "reference-transaction"] {
            let path = hooks + "/" + hook
            try "#!/bin/sh\ntouch \(directory.path)/hook-ran\nexit 1\n".write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }

        let data = directory.path + "/data"
        let server = try await ServerProcess(dataDirectory: data, environment: ["HOME": home, "XDG_CONFIG_HOME": home + "/.config"])
        defer { _ = server.terminate() }
        let generation = try await server.post("/api/generations", json: #"{"prompt": "an ox", "seed": 5}"#)
        #expect(generation.status == 201)
        let imageID = try #require((generation.body["images"] as? [[String: String]])?.first?["id"])
        #expect(try await server.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "dana", "rating": "up"}"#).status == 202)
        let git = Git(directory: data + "/dataset")
        try await eventually("the vote committed") {
            try await git.committedTrainRows().count == 1
        }

        #expect(try await git.run(["fsck", "--strict"]).isEmpty)
        #expect(try await git.run(["rev-parse", "--abbrev-ref", "HEAD"]).trimmingWhitespace() == "main")
        #expect(FileManager.default.fileExists(atPath: data + "/dataset/.git/refs/heads/main"), "files refs, not reftable")
        #expect(try await git.run(["log", "--format=%G?"]).split(separator: "\n").allSatisfy { $0 == "N" }, "no commit signed")
        let rows = DatasetLayout.trainCSV(of: try #require(ImageID(validating: imageID)))
        let csv = try #require(FileManager.default.contents(atPath: data + "/dataset/" + rows))
        #expect(!csv.contains(UInt8(ascii: "\r")), "no line endings converted")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/hook-ran"), "no hook of the user's ran")
    }
}
