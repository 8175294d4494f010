import DroverCore
import Foundation

/// `refs/heads/main`, read and moved the way git does it: the new value written to
/// `main.lock` and renamed into place, only if the branch still points where the caller thinks
/// (so a commit made by someone else in the meantime is never lost), with a reflog line.
struct MainBranch: Sendable {
    /// `.git`.
    let gitDirectory: String
    private var refPath: String { gitDirectory + "/refs/heads/main" }

    /// The commit the branch points at; `nil` before the first commit.
    func read() throws -> String? {
        if let loose = try FileIO.read(refPath) {
            return try Self.commitID(String(decoding: loose, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let packed = try FileIO.read(gitDirectory + "/packed-refs") else { return nil }
        for line in String(decoding: packed, as: UTF8.self).split(separator: "\n") where line.hasSuffix(" refs/heads/main") {
            return try Self.commitID(String(line.prefix(40)))
        }
        return nil
    }

    /// Moves the branch from `old` to `new`, durably: once it returns, the branch points at `new`
    /// even after a power cut (the objects `new` names must be durable already).
    /// - Throws: ``RepositoryMovedError`` if it no longer points at `old`, or HEAD is not `main`.
    func move(from old: String, to new: String, subject: String) throws {
        let lock = refPath + ".lock"
        do {
            try FileIO.write(Array("\(new)\n".utf8), to: lock, exclusive: true, durable: true)
        } catch is FileExistsError {
            throw GitWriteError(
                "refs/heads/main is locked: \(lock) exists (a git command is updating the branch, or one died; remove the file if none runs)"
            )
        }
        do {
            guard let head = try FileIO.read(gitDirectory + "/HEAD"),
                  String(decoding: head, as: UTF8.self) == "ref: refs/heads/main\n" else {
                throw RepositoryMovedError(description: "HEAD is not refs/heads/main")
            }
            let current = try read()
            guard current == old else {
                throw RepositoryMovedError(description: "main moved to \(current?.prefix(10) ?? "nothing") outside the committer")
            }
            // The reflog line is written under the lock, as git does.
            let entry = "\(old) \(new) Drover <drover@localhost> \(Int(Date().timeIntervalSince1970)) +0000\tcommit: \(subject)\n"
            for log in ["logs/HEAD", "logs/refs/heads/main"] { appendLine(entry, to: gitDirectory + "/" + log) }
            guard rename(lock, refPath) == 0 else { throw GitWriteError("cannot update refs/heads/main (errno \(errno))") }
        } catch {
            unlink(lock)
            throw error
        }
        try FileIO.sync(gitDirectory + "/refs/heads")
    }

    private static func commitID(_ text: String) throws -> String {
        guard text.utf8.count == 40, Hex.decode(text) != nil else {
            throw GitWriteError("refs/heads/main does not hold a commit id")
        }
        return text
    }

    private func appendLine(_ line: String, to path: String) {
        if (try? FileIO.append(Array(line.utf8), to: path)) == nil {
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? FileIO.append(Array(line.utf8), to: path)
        }
    }
}

/// The dataset's branch was moved by someone other than the committer (a merge, a commit by
/// hand); the committer reloads from the new HEAD and commits again on top of it.
public struct RepositoryMovedError: Error, CustomStringConvertible {
    public var description: String
}
