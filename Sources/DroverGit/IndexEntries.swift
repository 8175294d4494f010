import Crypto
import DroverCore
import Foundation

/// Every tracked file of the repository with its blob and its stat data: what `.git/index`
/// holds. The committer keeps it in memory, so that a commit builds its trees and rewrites the
/// index without asking git; `git status` then finds the working tree clean without reading a
/// file, as after `git add`.
struct IndexEntries {
    /// A file as `.git/index` (version 2) stores it: 40 bytes of stat data (ctime, mtime, dev,
    /// ino, mode, uid, gid, size; 32 bits each, big-endian), then the 20-byte blob id.
    struct Entry {
        var fields: [UInt8]
        var blob: ArraySlice<UInt8> { fields[40..<60] }
    }

    private(set) var entries: [String: Entry] = [:]
    /// The paths, in git's order (bytewise).
    private(set) var paths: [String] = []
    /// Tree ids by directory (`""` for the root), dropped when something below them changes.
    private(set) var trees: [String: String] = [:]

    /// The files of `commit` with their stat data, and its folders' trees (so that the next
    /// commit rewrites only the trees above what it changes): the index after `git reset --hard`
    /// to it. Read from `.git/index` when that holds exactly `commit`'s tree — as it does after a
    /// clean stop (``writeIndexFile(gitDirectory:)``) or `git reset --hard` — and from the commit
    /// (`git ls-tree -r -t`, and the `stat` of each file) otherwise.
    /// - Returns: the entries, and whether `.git/index` holds them already.
    static func load(_ git: Git, commit: String) async throws -> (entries: IndexEntries, isIndexFile: Bool) {
        let tree = try await git.run(["rev-parse", "\(commit)^{tree}"]).trimmingWhitespace()
        if let bytes = try FileIO.read(git.directory + "/.git/index"), let index = IndexEntries(indexFile: bytes, tree: tree) {
            return (index, true)
        }
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
            index.entries[path] = try Entry(stat: git.directory + "/" + path, blob: blob)
        }
        index.paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (index, false)
    }

    private init() {}

    /// The entries of a `.git/index` file (version 2, regular files only, its checksum right)
    /// whose cached tree (the `TREE` extension, ``cachedTrees()``, which git also writes on
    /// `reset --hard` and `commit`) says it holds `tree`; `nil` for any other.
    init?(indexFile bytes: [UInt8], tree: String) {
        func uint32(_ offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        guard bytes.count >= 32, bytes.starts(with: Array("DIRC".utf8)), uint32(4) == 2,
              Array(Insecure.SHA1.hash(data: bytes[..<(bytes.count - 20)])) == Array(bytes[(bytes.count - 20)...])
        else { return nil }
        let end = bytes.count - 20
        var offset = 12
        paths.reserveCapacity(uint32(8))
        entries.reserveCapacity(uint32(8))
        for _ in 0..<uint32(8) {
            // 60 bytes of fields, 2 of flags (stage and extended bits clear), the name, NULs to a multiple of 8.
            guard offset + 62 <= end, uint32(offset + 24) == 0o100644, bytes[offset + 60] & 0xF0 == 0 else { return nil }
            let nameStart = offset + 62
            guard let nameEnd = bytes[nameStart..<end].firstIndex(of: 0) else { return nil }
            let path = String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self)
            paths.append(path)
            entries[path] = Entry(fields: Array(bytes[offset..<offset + 60]))
            offset += (62 + nameEnd - nameStart + 8) & ~7
        }
        // Extensions: a 4-byte signature, a 4-byte size, the data.
        while offset + 8 <= end, !bytes[offset..<offset + 4].elementsEqual("TREE".utf8) {
            offset += 8 + uint32(offset + 4)
        }
        guard offset + 8 <= end else { return nil }
        // Each directory, depth first: its name (relative), NUL, entry count (-1: not known), space,
        // subtree count, newline, and its tree id when known.
        var position = offset + 8
        let treeEnd = min(end, position + uint32(offset + 4))
        func directory(_ parent: String?) -> Bool {
            guard let nul = bytes[position..<treeEnd].firstIndex(of: 0),
                  let newline = bytes[nul..<treeEnd].firstIndex(of: UInt8(ascii: "\n"))
            else { return false }
            let name = String(decoding: bytes[position..<nul], as: UTF8.self)
            let path = parent.map { $0.isEmpty ? name : $0 + "/" + name } ?? ""
            let counts = String(decoding: bytes[(nul + 1)..<newline], as: UTF8.self).split(separator: " ").compactMap { Int($0) }
            guard counts.count == 2 else { return false }
            position = newline + 1
            if counts[0] >= 0 {
                guard position + 20 <= treeEnd else { return false }
                trees[path] = Hex.encode(bytes[position..<position + 20])
                position += 20
            }
            return (0..<counts[1]).allSatisfy { _ in directory(path) }
        }
        guard directory(nil), trees[""] == tree else { return nil }
    }

    /// Records that the file at `path` (as in the working tree now) holds `blob`.
    mutating func update(_ path: String, blob: String, directory: String) throws {
        guard let id = Hex.decode(blob), id.count == 20 else { throw GitWriteError("bad object id \(blob)") }
        if entries[path] == nil {
            let position = paths.partitioningIndex { !$0.utf8.lexicographicallyPrecedes(path.utf8) }
            paths.insert(path, at: position)
        }
        entries[path] = try Entry(stat: directory + "/" + path, blob: id)
        var folder = Substring(path)
        while let slash = folder.lastIndex(of: "/") {
            folder = folder[..<slash]
            trees[String(folder)] = nil
        }
        trees[""] = nil
    }

    /// Adds the trees that changed since the last call to `pack`.
    /// - Returns: the root tree's id.
    mutating func writeTrees(to pack: inout ObjectPack) throws -> String {
        try tree("", paths[...], &pack)
    }

    /// `.git/index` (version 2, with the ``cachedTrees()`` extension), written under `index.lock`
    /// as git does.
    /// - Returns: `false` when a git command of the user's holds the lock right now: the index
    ///   was left to it, and must be written again once it is done.
    func writeIndexFile(gitDirectory: String) throws -> Bool {
        var out: [UInt8] = Array("DIRC".utf8)
        Self.append32(2, to: &out)
        Self.append32(UInt32(paths.count), to: &out)
        for path in paths {
            guard let entry = entries[path] else { continue }
            out += entry.fields
            let name = Array(path.utf8)
            out += [UInt8(min(name.count, 0xFFF) >> 8), UInt8(min(name.count, 0xFFF) & 0xFF)]
            out += name
            let length = 62 + name.count
            out += repeatElement(0, count: 8 - length % 8)
        }
        if let trees = cachedTrees() {
            out += Array("TREE".utf8)
            Self.append32(UInt32(trees.count), to: &out)
            out += trees
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

    /// git's cached-tree extension (`TREE`): each folder, depth first, as its name, NUL, how many
    /// files it holds (all the way down), a space, how many subfolders, a newline and its tree id.
    /// With it a start reads the folders' trees back from the index (``init(indexFile:tree:)``)
    /// instead of listing every file, and `git status` skips comparing the folders with HEAD.
    /// Built from the folders alone (a file count is two binary searches in the sorted paths), not
    /// from a million paths. `nil` if the root's tree is not known: a change drops the trees of
    /// every folder above it, the root's included, until a commit writes them again.
    private func cachedTrees() -> [UInt8]? {
        var subfolders: [String: [String]] = [:]
        for folder in trees.keys where !folder.isEmpty {
            subfolders[folder.lastIndex(of: "/").map { String(folder[..<$0]) } ?? "", default: []].append(folder)
        }
        var out: [UInt8] = []
        func write(_ folder: String) -> Bool {
            guard let id = trees[folder], let bytes = Hex.decode(id) else { return false }
            let children = subfolders[folder] ?? []
            let name = folder.lastIndex(of: "/").map { folder[folder.index(after: $0)...] } ?? folder[...]
            out += Array(name.utf8) + [0] + Array("\(files(under: folder)) \(children.count)\n".utf8) + bytes
            return children.allSatisfy(write)
        }
        return write("") ? out : nil
    }

    /// How many paths are in `folder` (`""`: the root), at any depth.
    private func files(under folder: String) -> Int {
        guard !folder.isEmpty else { return paths.count }
        let prefix = Array((folder + "/").utf8)
        let first = paths.partitioningIndex { !$0.utf8.lexicographicallyPrecedes(prefix) }
        return paths[first...].partitioningIndex { !$0.utf8.starts(with: prefix) } - first
    }

    /// The tree of the directory `prefix` (`""` or `images/`…), whose files are `paths`.
    ///
    /// Paths in bytewise order are in git's tree order too (a folder sorts as its name and a
    /// `/`, which is how its paths begin), so the entries are written as they come, bytes only:
    /// an image folder of thousands of files costs no string per file.
    private mutating func tree(_ prefix: String, _ paths: ArraySlice<String>, _ pack: inout ObjectPack) throws -> String {
        let key = prefix.isEmpty ? "" : String(prefix.dropLast())
        if let known = trees[key] { return known }
        let fileMode = Array("100644 ".utf8), folderMode = Array("40000 ".utf8)
        var content: [UInt8] = []
        var rest = paths
        while let first = rest.first {
            let name = first.utf8.dropFirst(prefix.utf8.count)
            if let slash = name.firstIndex(of: UInt8(ascii: "/")) {
                let folder = String(first.utf8[..<first.utf8.index(after: slash)])!
                // The folder's paths come first in `rest` (sorted): found by binary search, so
                // that an unchanged folder costs nothing however many files it holds.
                let inside = rest[..<rest.partitioningIndex { !$0.hasPrefix(folder) }]
                let id = try tree(folder, inside, &pack)
                content += folderMode
                content += name[..<slash]
                content.append(0)
                content += Hex.decode(id) ?? []
                rest = rest.dropFirst(inside.count)
            } else {
                guard let entry = entries[first] else { throw GitWriteError("no index entry for \(first)") }
                content += fileMode
                content += name
                content.append(0)
                content += entry.blob
                rest = rest.dropFirst()
            }
        }
        let id = try pack.add(.tree, content)
        trees[key] = id
        return id
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

extension IndexEntries.Entry {
    /// The entry of the file at `path` (absolute) as it is now, holding `blob`.
    init(stat path: String, blob: [UInt8]) throws {
        var s = Foundation.stat()
        guard lstat(path, &s) == 0 else { throw GitWriteError("cannot stat \(path)") }
        var fields: [UInt8] = []
        fields.reserveCapacity(60)
        let values = [
            Int64(s.st_ctim.tv_sec), Int64(s.st_ctim.tv_nsec), Int64(s.st_mtim.tv_sec), Int64(s.st_mtim.tv_nsec),
            Int64(truncatingIfNeeded: s.st_dev), Int64(truncatingIfNeeded: s.st_ino), 0o100644,
            Int64(s.st_uid), Int64(s.st_gid), Int64(s.st_size),
        ]
        for value in values {
            let word = UInt32(truncatingIfNeeded: value)
            fields += [UInt8(word >> 24), UInt8(word >> 16 & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)]
        }
        self.fields = fields + blob
    }
}
