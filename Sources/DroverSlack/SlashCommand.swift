import DroverCore

/// A slash command invocation: the form fields Slack POSTs (or the same fields as JSON, in
/// Socket Mode), with Slack's names.
public struct SlashCommand: Codable, Sendable, Equatable {
    public var teamID: String
    public var channelID: String
    public var userID: String
    public var command: String
    public var text: String
    public var responseURL: String
    public var triggerID: String

    enum CodingKeys: String, CodingKey {
        case command, text
        case teamID = "team_id"
        case channelID = "channel_id"
        case userID = "user_id"
        case responseURL = "response_url"
        case triggerID = "trigger_id"
    }

    public init(teamID: String, channelID: String, userID: String, command: String, text: String, responseURL: String, triggerID: String) {
        self.teamID = teamID
        self.channelID = channelID
        self.userID = userID
        self.command = command
        self.text = text
        self.responseURL = responseURL
        self.triggerID = triggerID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            teamID: try container.decode(String.self, forKey: .teamID), channelID: try container.decode(String.self, forKey: .channelID),
            userID: try container.decode(String.self, forKey: .userID), command: try container.decode(String.self, forKey: .command),
            // An empty text may come as no field at all.
            text: try container.decodeIfPresent(String.self, forKey: .text) ?? "",
            responseURL: try container.decode(String.self, forKey: .responseURL), triggerID: try container.decode(String.self, forKey: .triggerID)
        )
    }
}

/// A message for whoever ran a slash command: the command's answer (the HTTP response, or the
/// Socket Mode acknowledgement's payload), or a later post to its `response_url`.
public struct CommandResponse: Codable, Sendable, Equatable {
    /// `ephemeral` (only the requester sees it) or `in_channel`.
    public var responseType: String
    public var text: String
    /// For `response_url` posts: whether to replace the message the command showed before.
    public var replaceOriginal: Bool?

    enum CodingKeys: String, CodingKey {
        case text
        case responseType = "response_type"
        case replaceOriginal = "replace_original"
    }

    /// A message only the requester sees.
    public static func ephemeral(_ text: String) -> Self {
        Self(responseType: "ephemeral", text: text)
    }

    public init(responseType: String, text: String, replaceOriginal: Bool? = nil) {
        self.responseType = responseType
        self.text = text
        self.replaceOriginal = replaceOriginal
    }
}

/// What the text after `/ox` asks for.
///
/// Syntax: `/ox [--n N] [--seed S] [--negative "<words>"] [--model VERSION] <prompt>`, `/ox help`
/// or `/ox stats`. Options come first; everything after them is the prompt.
public enum OxCommand: Equatable, Sendable {
    case help
    /// How the model versions compare, for the requester only.
    case stats
    case generate(GenerationRequest)

    /// The usage text shown for `help` and after a mistake.
    public static func usage(command: String) -> String {
        """
        *\(command) <prompt>* generates an image and posts it here for 👍 / 👎 votes.
        Options, before the prompt: `--n 1…\(GenerationRequest.maxImages)` images (default 1), `--seed <number>` \
        for a reproducible picture, `--negative "<words>"` to steer away from something, `--model <version>` \
        to pick a model version yourself (its images then stay out of the blind comparison).
        Example: `\(command) --n 4 --seed 42 a fluffy ox eating almonds`
        Vote with 👍 / 👎 reactions or the buttons; every vote is a commit in the dataset.
        `\(command) stats` shows (only to you) how the model versions compare so far.
        """
    }

    /// Parses the command's text.
    /// - Throws: ``OxCommandError`` with a message for the user.
    public static func parse(_ text: String) throws(OxCommandError) -> OxCommand {
        var words = Substring(text.trimmingWhitespace())
        if words.isEmpty || words.lowercased() == "help" { return .help }
        if words.lowercased() == "stats" { return .stats }
        var count = 1
        var seed: UInt32?
        var negative: String?
        var modelVersion: String?
        while words.hasPrefix("--") {
            let option = nextWord(&words)
            switch option {
            case "--n":
                guard let value = Int(nextWord(&words)), (1...GenerationRequest.maxImages).contains(value) else {
                    throw OxCommandError("--n takes a number from 1 to \(GenerationRequest.maxImages)")
                }
                count = value
            case "--seed":
                guard let value = UInt32(nextWord(&words)) else { throw OxCommandError("--seed takes a whole number from 0 to 4294967295") }
                seed = value
            case "--negative":
                negative = nextWord(&words, allowQuotes: true)
            case "--model":
                modelVersion = nextWord(&words)
                guard !modelVersion!.isEmpty else { throw OxCommandError("--model takes the name of a model version") }
            default:
                throw OxCommandError("unknown option \(option)")
            }
        }
        do {
            return .generate(try GenerationRequest(
                prompt: String(words), negativePrompt: negative, count: count, seed: seed, modelVersion: modelVersion
            ))
        } catch {
            throw OxCommandError(error.description)
        }
    }

    /// Removes and returns the next word (or "quoted phrase", when allowed).
    private static func nextWord(_ words: inout Substring, allowQuotes: Bool = false) -> String {
        words = words.drop(while: \.isWhitespace)
        let quote = words.first.flatMap { ["\"", "“"].contains($0) ? $0 : nil }
        if allowQuotes, quote != nil {
            let body = words.dropFirst()
            let end = body.firstIndex(where: { $0 == "\"" || $0 == "”" }) ?? body.endIndex
            let word = String(body[..<end])
            words = end < body.endIndex ? body[body.index(after: end)...] : body[end...]
            words = words.drop(while: \.isWhitespace)
            return word
        }
        let end = words.firstIndex(where: \.isWhitespace) ?? words.endIndex
        let word = String(words[..<end])
        words = words[end...].drop(while: \.isWhitespace)
        return word
    }
}

/// A mistake in the command's text; the message is shown to the user.
public struct OxCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
