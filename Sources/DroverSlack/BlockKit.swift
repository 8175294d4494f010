import FoundationEssentials

/// The Block Kit pieces Drover's messages are made of (an image's message, the digest), as Slack's
/// JSON spells them; a field that is `nil` is left out.
public enum BlockKit {
    public struct PlainText: Encodable, Sendable {
        var type = "plain_text"
        public var text: String
        var emoji = true
        public init(text: String) { self.text = text }
    }

    public struct Markdown: Encodable, Sendable {
        var type = "mrkdwn"
        public var text: String
        public init(text: String) { self.text = text }
    }

    public struct HeaderBlock: Encodable, Sendable {
        var type = "header"
        public var text: PlainText
        public init(text: PlainText) { self.text = text }
    }

    public struct SectionBlock: Encodable, Sendable {
        var type = "section"
        public var text: Markdown
        public init(text: Markdown) { self.text = text }
    }

    public struct ContextBlock: Encodable, Sendable {
        var type = "context"
        public var elements: [Markdown]
        public init(elements: [Markdown]) { self.elements = elements }
    }

    /// A picture: a file uploaded to Slack (`slack_file`), or a public URL (`image_url`).
    public struct ImageBlock: Encodable, Sendable {
        public struct SlackFile: Encodable, Sendable {
            public var id: String
            public init(id: String) { self.id = id }
        }
        var type = "image"
        public var blockID: String?
        public var slackFile: SlackFile?
        public var imageURL: String?
        public var altText: String
        public var title: PlainText

        public init(blockID: String? = nil, slackFile: SlackFile? = nil, imageURL: String? = nil, altText: String, title: PlainText) {
            self.blockID = blockID
            self.slackFile = slackFile
            self.imageURL = imageURL
            self.altText = altText
            self.title = title
        }

        enum CodingKeys: String, CodingKey {
            case type, title
            case blockID = "block_id"
            case slackFile = "slack_file"
            case imageURL = "image_url"
            case altText = "alt_text"
        }
    }

    public struct Button: Encodable, Sendable {
        var type = "button"
        public var actionID: String
        public var text: PlainText
        public var value: String
        public init(actionID: String, text: PlainText, value: String) {
            self.actionID = actionID
            self.text = text
            self.value = value
        }
        enum CodingKeys: String, CodingKey {
            case type, text, value
            case actionID = "action_id"
        }
    }

    public struct ActionsBlock: Encodable, Sendable {
        var type = "actions"
        public var blockID: String
        public var elements: [Button]
        public init(blockID: String, elements: [Button]) {
            self.blockID = blockID
            self.elements = elements
        }
        enum CodingKeys: String, CodingKey {
            case type, elements
            case blockID = "block_id"
        }
    }

    public enum Block: Encodable, Sendable {
        case header(HeaderBlock)
        case section(SectionBlock)
        case image(ImageBlock)
        case actions(ActionsBlock)
        case context(ContextBlock)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .header(let block): try block.encode(to: encoder)
            case .section(let block): try block.encode(to: encoder)
            case .image(let block): try block.encode(to: encoder)
            case .actions(let block): try block.encode(to: encoder)
            case .context(let block): try block.encode(to: encoder)
            }
        }
    }

    /// `blocks` as the JSON array `chat.postMessage` takes.
    public static func json(_ blocks: [Block]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(blocks), as: UTF8.self)
    }
}
