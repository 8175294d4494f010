import DroverStore
import NIOCore

extension OxenMirror {
    /// Where the mirror stands against the dataset, read from the ledger and git only.
    public struct Backlog: Sendable {
        /// The newest mirror record, if any.
        public var last: OxenMirrorRecord?
        /// The dataset's `main`.
        public var head: String
        /// Dataset commits not yet on Oxen.
        public var pending: Int
    }

    /// What `drover oxen verify` found.
    public struct Verification: Sendable {
        /// The dataset commit compared with.
        public var head: String
        /// Files compared byte for byte (all but images), and images found with git's size.
        public var filesCompared: Int
        public var imagesFound: Int
        /// Files whose bytes differ, or images whose size differs.
        public var different: [String]
        /// Files or images the branch lacks.
        public var missing: [String]
        /// Everything matched.
        public var ok: Bool { different.isEmpty && missing.isEmpty }
    }

    /// The backlog now.
    public func backlog() async throws -> Backlog {
        let last = try ledger.lastOxenMirror(target: client.settings.target)
        let head = try await commits.head()
        return Backlog(last: last, head: head, pending: try await commits.pending(after: last?.gitCommit, head: head).count)
    }

    /// The newest commit on the Oxen branch, if it has one.
    public func branchHead() async throws -> OxenCommit? {
        try await client.history(page: 1, pageSize: 1)?.commits.first
    }

    /// Compares the Oxen branch with the dataset's `main`: every file but the images downloaded
    /// and compared byte for byte (the rows and provenance files, …), every image
    /// looked up (`meta`) and its size compared with git's.
    /// - Parameter concurrency: image look-ups in flight at once.
    public func verify(concurrency: Int = 8) async throws -> Verification {
        let head = try await commits.head()
        let sizes = try await commits.sizes(at: head)
        var result = Verification(head: head, filesCompared: 0, imagesFound: 0, different: [], missing: [])
        for path in sizes.keys.sorted() where !path.hasPrefix("images/") {
            let expected = try await commits.bytes(of: path, at: head)
            guard let actual = try await download(path) else {
                result.missing.append(path)
                continue
            }
            if actual == expected { result.filesCompared += 1 } else { result.different.append(path) }
        }
        let images = sizes.filter { $0.key.hasPrefix("images/") }.sorted { $0.key < $1.key }
        try await withThrowingTaskGroup(of: (String, Int?).self) { group in
            var next = images.makeIterator()
            func start() {
                guard let (path, _) = next.next() else { return }
                group.addTask { [self] in (path, try await size(path)) }
            }
            for _ in 0..<max(1, concurrency) { start() }
            while let (path, size) = try await group.next() {
                if let size {
                    if size == sizes[path] { result.imagesFound += 1 } else { result.different.append(path) }
                } else {
                    result.missing.append(path)
                }
                start()
            }
        }
        result.different.sort()
        result.missing.sort()
        return result
    }

    /// The file's bytes on the branch; `nil` if it is not there.
    private func download(_ path: String) async throws -> [UInt8]? {
        let result: Result<ByteBuffer, OxenError>
        do { result = .success(try await client.file(path)) } catch { result = .failure(error) }
        switch result {
        case .success(let buffer): return Array(buffer.readableBytesView)
        case .failure(let error): if error.kind == .notFound { return nil } else { throw error }
        }
    }

    /// The file's size on the branch (-1 if Oxen does not say); `nil` if it is not there.
    private func size(_ path: String) async throws -> Int? {
        let result: Result<OxenEntry, OxenError>
        do { result = .success(try await client.meta(path)) } catch { result = .failure(error) }
        switch result {
        case .success(let entry): return entry.size ?? -1
        case .failure(let error): if error.kind == .notFound { return nil } else { throw error }
        }
    }
}
