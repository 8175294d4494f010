import Crypto
import DroverCore
import Foundation

/// Every tracked file of the repository with its blob and its stat data: what `.git/index`
/// holds. The committer keeps it in memory, so that a commit builds its trees and rewrites the
/// index without asking git; `git status` then finds the working tree clean without reading a
/// file, as after `git add`.
struct IndexEntries {
    struct Entry {
        /// The blob's id, 20 bytes.
        var blob: [UInt8]
        var stat: stat
    }

    private var entries: [String: Entry] = [:]
    /// The paths, in git's order (bytewise).
    private var paths: [String] = []
    /// Tree ids by directory (`""` for the root), dropped when something below them changes.
    private var trees: [String: String] = [:]

    /// The files of `commit` (`git ls-tree -r -t`), with the `stat` of each in the working tree:
    /// the index after `git reset` to it; and its folders' trees, so that the next commit
    /// rewrites only the trees above what it changes. Read from the commit rather than
    /// `.git/index`, which ``CommitWriter`` writes only between commits.
    static func load(_ git: Git, commit: String) async throws -> IndexEntries {
        var index = IndexEntries()
        for record in try await git.run(["ls-tree", "-r", "-t", "-z", "--full-tree", commit], outputLimit: 1 << 30).split(separator: "\0") {
            // <mode> SP <type> SP <object> TAB <path>
            guard let tab = record.firstIndex(of: "\t") else { continue }
            let fields = record[..<tab].split(separator: " ")
            if fields.count == 3, fields[1] == "tree" {
                index.trees[String(record[record.index(after: tab)...])] = String(fields[2])
                continue
            }
            guard fields.count == 3, fields[0] == "100644", let blob = Hex.decode(fields[2]), blob.count == 20 else {
                throw GitWriteError("the commit holds \(record.prefix(80)): only regular files are expected in the dataset")
            }
            let path = String(record[record.index(after: tab)...])
            index.paths.append(path)
            index.entries[path] = Entry(blob: blob, stat: try Self.stat(git.directory + "/" + path))
        }
        index.paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return index
    }

    /// Records that the file at `path` (as in the working tree now) holds `blob`.
    mutating func update(_ path: String, blob: String, directory: String) throws {
        guard let id = Hex.decode(blob), id.count == 20 else { throw GitWriteError("bad object id \(blob)") }
        if entries[path] == nil {
            let position = paths.partitioningIndex { !$0.utf8.lexicographicallyPrecedes(path.utf8) }
            paths.insert(path, at: position)
        }
        entries[path] = Entry(blob: id, stat: try Self.stat(directory + "/" + path))
        var folder = Substring(path)
        while let slash = folder.lastIndex(of: "/") {
            folder = folder[..<slash]
            trees[String(folder)] = nil
        }
        trees[""] = nil
    }

    /// Writes the trees that changed since the last call.
    /// - Returns: the root tree's id and the bytes stored.
    mutating func writeTrees(to objects: LooseObjects) throws -> (id: String, stored: Int) {
        var stored = 0
        let id = try tree("", paths[...], objects, stored: &stored)
        return (id, stored)
    }

    /// `.git/index` (version 2, no extensions), written under `index.lock` as git does.
    /// - Returns: `false` when a git command of the user's holds the lock right now: the index
    ///   was left to it, and must be written again once it is done.
    func writeIndexFile(gitDirectory: String) throws -> Bool {
        var out: [UInt8] = Array("DIRC".utf8)
        Self.append32(2, to: &out)
        Self.append32(UInt32(paths.count), to: &out)
        for path in paths {
            guard let entry = entries[path] else { continue }
            let s = entry.stat
            for value in [s.st_ctim.tv_sec, s.st_ctim.tv_nsec, s.st_mtim.tv_sec, s.st_mtim.tv_nsec] {
                Self.append32(UInt32(truncatingIfNeeded: value), to: &out)
            }
            for value in [UInt64(s.st_dev), UInt64(s.st_ino)] { Self.append32(UInt32(truncatingIfNeeded: value), to: &out) }
            Self.append32(0o100644, to: &out)
            for value in [UInt64(s.st_uid), UInt64(s.st_gid), UInt64(s.st_size)] { Self.append32(UInt32(truncatingIfNeeded: value), to: &out) }
            out += entry.blob
            let name = Array(path.utf8)
            out += [UInt8(min(name.count, 0xFFF) >> 8), UInt8(min(name.count, 0xFFF) & 0xFF)]
            out += name
            let length = 62 + name.count
            out += repeatElement(0, count: 8 - length % 8)
        }
        out += Insecure.SHA1.hash(data: out)
        let lock = gitDirectory + "/index.lock"
        do {
            try FileIO.write(out, to: lock, exclusive: true)
        } catch is FileExistsError {
            return false
        }
        guard rename(lock, gitDirectory + "/index") == 0 else {
            unlink(lock)
            throw GitWriteError("cannot write \(gitDirectory)/index")
        }
        return true
    }

    /// The tree of the directory `prefix` (`""` or `images/`…), whose files are `paths`.
    private mutating func tree(_ prefix: String, _ paths: ArraySlice<String>, _ objects: LooseObjects, stored: inout Int) throws -> String {
        let key = prefix.isEmpty ? "" : String(prefix.dropLast())
        if let known = trees[key] { return known }
        var items: [(name: String, sortKey: String, mode: String, id: [UInt8])] = []
        var rest = paths
        while let first = rest.first {
            let name = first.dropFirst(prefix.count)
            if let slash = name.firstIndex(of: "/") {
                let folder = prefix + name[..<slash] + "/"
                // The folder's paths come first in `rest` (sorted): found by binary search, so
                // that an unchanged folder costs nothing however many files it holds.
                let inside = rest[..<rest.partitioningIndex { !$0.hasPrefix(folder) }]
                let id = try tree(folder, inside, objects, stored: &stored)
                items.append((String(name[..<slash]), String(name[..<slash]) + "/", "40000", Hex.decode(id) ?? []))
                rest = rest.dropFirst(inside.count)
            } else {
                items.append((String(name), String(name), "100644", entries[first]?.blob ?? []))
                rest = rest.dropFirst()
            }
        }
        items.sort { $0.sortKey.utf8.lexicographicallyPrecedes($1.sortKey.utf8) }
        var content: [UInt8] = []
        for item in items { content += Array("\(item.mode) \(item.name)\0".utf8) + item.id }
        let (id, written) = try objects.write(.tree, content)
        stored += written
        trees[key] = id
        return id
    }

    private static func stat(_ path: String) throws -> stat {
        var result = Foundation.stat()
        guard lstat(path, &result) == 0 else { throw GitWriteError("cannot stat \(path)") }
        return result
    }

    private static func append32(_ value: UInt32, to out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

extension Collection {
    /// The first index whose element satisfies `belongs`, for a collection in which every element
    /// that does comes after every element that does not (binary search).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if belongs(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
