import DroverCore
import DroverStore
import Foundation

/// Applies a ``VoteCommand`` from the web page or the JSON API.
struct VoteHandler: InboxHandler {
    static let kind = "vote"
    var kind: String { Self.kind }

    let recorder: VoteRecorder

    func handle(_ item: InboxItem) async throws {
        let command = try JSONDecoder().decode(VoteCommand.self, from: item.payload)
        try await recorder.record(item) { _ in command }
    }
}
