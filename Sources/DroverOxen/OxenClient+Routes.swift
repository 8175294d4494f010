import FoundationEssentials
import NIOCore
import NIOHTTP1

/// A commit on Oxen (`model/commit.rs`).
public struct OxenCommit: Decodable, Sendable, Equatable {
    public var id: String
    public var message: String
    public var author: String?
    public var email: String?
    public var timestamp: String?
}

/// A file's entry (`GET …/meta/{rev}/{path}`).
public struct OxenEntry: Decodable, Sendable {
    public var filename: String?
    public var hash: String?
    public var size: Int?
    public var is_dir: Bool?
}

/// The routes the mirror and `drover oxen` use, as Oxen's own client calls them.
extension OxenClient {
    /// `GET …`: the repository exists and the token may read it.
    func checkRepository() async throws(OxenError) {
        _ = try await send(.GET, repositoryPath([]), limit: 1 << 20)
    }

    /// One page of the branch's history, newest first; `nil` when the branch does not exist yet
    /// (a repository with no commit).
    func history(page: Int, pageSize: Int) async throws(OxenError) -> (commits: [OxenCommit], hasMore: Bool)? {
        struct Reply: Decodable {
            var commits: [OxenCommit]
            var has_more: Bool?
            var total_pages: Int?
        }
        do {
            let reply = try await json(.GET, repositoryPath(["commits", "history", settings.branch]) + "?page=\(page)&page_size=\(pageSize)", as: Reply.self)
            return (reply.commits, reply.has_more ?? (page < (reply.total_pages ?? 0)))
        } catch where error.kind == .notFound {
            return nil
        }
    }

    /// `PUT …/workspaces`: a new, unnamed workspace on the branch (committing it deletes it).
    func createWorkspace() async throws(OxenError) -> String {
        struct New: Encodable {
            var workspace_id: String
            var branch_name: String
            var resource_path = "/"
            var entity_type = "user"
            var name: String? = nil
            var force = true
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(workspace_id, forKey: .workspace_id)
                try container.encode(branch_name, forKey: .branch_name)
                try container.encode(resource_path, forKey: .resource_path)
                try container.encode(entity_type, forKey: .entity_type)
                try container.encode(name, forKey: .name)
                try container.encode(force, forKey: .force)
            }
            enum CodingKeys: String, CodingKey { case workspace_id, branch_name, resource_path, entity_type, name, force }
        }
        struct Reply: Decodable {
            struct Workspace: Decodable { var id: String }
            var workspace: Workspace
        }
        let id = UUID().uuidString.lowercased()
        let body = Self.body(New(workspace_id: id, branch_name: settings.branch))
        return try await json(.PUT, repositoryPath(["workspaces"]), body: body, contentType: "application/json", as: Reply.self).workspace.id
    }

    /// `DELETE …/workspaces/{id}`, for a workspace an attempt gave up on.
    func deleteWorkspace(_ id: String) async throws(OxenError) {
        _ = try await send(.DELETE, repositoryPath(["workspaces", id]), limit: 1 << 20)
    }

    /// `POST …/workspaces/{id}/files/{directory}`: stages `files` (names relative to
    /// `directory`), each part gzipped.
    /// - Throws: ``OxenError`` if a file is missing from the paths Oxen says it staged.
    func upload(workspace: String, directory: String, files: [(name: String, bytes: [UInt8])]) async throws(OxenError) {
        struct Reply: Decodable { var paths: [String] }
        var form = MultipartForm()
        for file in files {
            form.addFile(field: "file[]", filename: file.name, contentType: "application/gzip", bytes: Gzip.compress(file.bytes))
        }
        var segments = ["workspaces", workspace, "files"]
        if !directory.isEmpty { segments.append(directory) }
        let request = "POST \(repositoryPath(segments))"
        let reply = try await json(.POST, repositoryPath(segments), body: form.body(), contentType: form.contentType, as: Reply.self)
        let staged = Set(reply.paths)
        let missing = files.map { directory.isEmpty ? $0.name : directory + "/" + $0.name }.filter { !staged.contains($0) }
        guard missing.isEmpty else {
            throw OxenError(kind: .badResponse, request: request, message: "Oxen did not stage \(missing.count) of \(files.count) files (\(missing.prefix(3).joined(separator: ", ")))")
        }
    }

    /// `DELETE …/workspaces/{id}/files`: stages the removal of `paths`.
    func remove(workspace: String, paths: [String]) async throws(OxenError) {
        _ = try await send(.DELETE, repositoryPath(["workspaces", workspace, "files"]), body: Self.body(paths), contentType: "application/json", limit: 1 << 20)
    }

    /// `POST …/workspaces/{id}/commit/{branch}`, then `POST …/commits/{id}/complete` as Oxen's
    /// client does. `nil` when Oxen says nothing was staged (422 `NoChanges`).
    func commit(workspace: String, message: String, author: String, email: String) async throws(OxenError) -> OxenCommit? {
        struct Body: Encodable { var message, author, email: String }
        struct Reply: Decodable { var commit: OxenCommit }
        let commit: OxenCommit
        do {
            commit = try await json(
                .POST, repositoryPath(["workspaces", workspace, "commit", settings.branch]),
                body: Self.body(Body(message: message, author: author, email: email)), contentType: "application/json", as: Reply.self
            ).commit
        } catch where error.status == 422 {
            return nil
        }
        struct Complete: Encodable {
            struct Branch: Encodable { var name, commit_id: String }
            var branch: Branch
        }
        // The commit is on the branch already; this only tells the server the push is complete.
        _ = try? await send(.POST, repositoryPath(["commits", commit.id, "complete"]), body: Self.body(Complete(branch: .init(name: settings.branch, commit_id: commit.id))), limit: 1 << 20)
        return commit
    }

    /// `GET …/file/{branch}/{path}`: the file's bytes on the branch.
    func file(_ path: String, limit: Int = 1 << 30) async throws(OxenError) -> ByteBuffer {
        try await send(.GET, repositoryPath(["file", settings.branch, path]), limit: limit).body
    }

    /// `GET …/meta/{branch}/{path}`: the file's entry on the branch.
    func meta(_ path: String) async throws(OxenError) -> OxenEntry {
        struct Reply: Decodable { var entry: OxenEntry }
        return try await json(.GET, repositoryPath(["meta", settings.branch, path]), as: Reply.self).entry
    }
}
