import DroverCore
import FoundationEssentials

/// Drover's vote buttons: which action ids they carry and what each means.
public enum VoteButton {
    public static let approveActionID = "drover_vote_up"
    public static let disapproveActionID = "drover_vote_down"

    /// The rating a button's action id stands for; `nil` for anything that is not a vote button.
    public static func rating(forActionID actionID: String) -> Rating? {
        switch actionID {
        case approveActionID: .approve
        case disapproveActionID: .disapprove
        default: nil
        }
    }
}

/// The Slack message that shows one image: the picture (an uploaded file), 👍 / 👎 buttons
/// with the current tallies, and a line saying what it is. One image per message, so a
/// reaction on the message is never ambiguous about which image it votes on.
public struct ImageMessage: Sendable, Equatable {
    public var imageID: ImageID
    public var fileID: String
    public var prompt: String
    public var seed: UInt32?
    public var approvals: Int
    public var disapprovals: Int

    public init(imageID: ImageID, fileID: String, prompt: String, seed: UInt32?, approvals: Int = 0, disapprovals: Int = 0) {
        self.imageID = imageID
        self.fileID = fileID
        self.prompt = prompt
        self.seed = seed
        self.approvals = approvals
        self.disapprovals = disapprovals
    }

    /// The plain-text fallback (notifications, screen readers).
    public var text: String {
        "\(prompt.prefix(200)) — vote 👍 / 👎"
    }

    /// The Block Kit blocks as a JSON array. The actions block's id changes with the tallies,
    /// so `chat.update` always replaces it.
    public func blocksJSON() -> String {
        let seedText = seed.map { "seed \($0) · " } ?? ""
        return BlockKit.json([
            .image(.init(
                blockID: "image-\(imageID)", slackFile: .init(id: fileID), altText: String(prompt.prefix(1_900)),
                title: .init(text: String(prompt.prefix(190)))
            )),
            .actions(.init(blockID: "vote-\(imageID)-\(approvals)-\(disapprovals)", elements: [
                .init(actionID: VoteButton.approveActionID, text: .init(text: "👍 \(approvals)"), value: imageID.rawValue),
                .init(actionID: VoteButton.disapproveActionID, text: .init(text: "👎 \(disapprovals)"), value: imageID.rawValue),
            ])),
            .context(.init(elements: [.init(text: "\(seedText)`\(imageID)` · react 👍 / 👎 or click; click again to take it back")])),
        ])
    }
}
