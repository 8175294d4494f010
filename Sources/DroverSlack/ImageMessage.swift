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
        let blocks: [Block] = [
            .image(ImageBlock(
                blockID: "image-\(imageID)", slackFile: .init(id: fileID), altText: String(prompt.prefix(1_900)),
                title: .init(text: String(prompt.prefix(190)))
            )),
            .actions(ActionsBlock(blockID: "vote-\(imageID)-\(approvals)-\(disapprovals)", elements: [
                Button(actionID: VoteButton.approveActionID, text: .init(text: "👍 \(approvals)"), value: imageID.rawValue),
                Button(actionID: VoteButton.disapproveActionID, text: .init(text: "👎 \(disapprovals)"), value: imageID.rawValue),
            ])),
            .context(ContextBlock(elements: [.init(text: "\(seedText)`\(imageID)` · react 👍 / 👎 or click; click again to take it back")])),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(blocks), as: UTF8.self)
    }

    // MARK: - Block Kit

    struct PlainText: Encodable {
        var type = "plain_text"
        var text: String
        var emoji = true
    }
    struct ImageBlock: Encodable {
        var type = "image"
        var blockID: String
        var slackFile: SlackFile
        var altText: String
        var title: PlainText
        struct SlackFile: Encodable { var id: String }
        enum CodingKeys: String, CodingKey {
            case type, title
            case blockID = "block_id"
            case slackFile = "slack_file"
            case altText = "alt_text"
        }
    }
    struct Button: Encodable {
        var type = "button"
        var actionID: String
        var text: PlainText
        var value: String
        enum CodingKeys: String, CodingKey {
            case type, text, value
            case actionID = "action_id"
        }
    }
    struct ActionsBlock: Encodable {
        var type = "actions"
        var blockID: String
        var elements: [Button]
        enum CodingKeys: String, CodingKey {
            case type, elements
            case blockID = "block_id"
        }
    }
    struct ContextBlock: Encodable {
        var type = "context"
        var elements: [Markdown]
        struct Markdown: Encodable {
            var type = "mrkdwn"
            var text: String
        }
    }
    enum Block: Encodable {
        case image(ImageBlock)
        case actions(ActionsBlock)
        case context(ContextBlock)
        func encode(to encoder: any Encoder) throws {
            switch self {
            case .image(let block): try block.encode(to: encoder)
            case .actions(let block): try block.encode(to: encoder)
            case .context(let block): try block.encode(to: encoder)
            }
        }
    }
}
