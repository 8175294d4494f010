/// What a person asked to be generated.
public struct GenerationRequest: Hashable, Codable, Sendable {
    /// The most images one request may ask for.
    public static let maxImages = 8
    /// The longest prompt accepted, in bytes.
    public static let maxPromptBytes = 2_000
    /// The width and height of an image when neither the request nor its model version sets them.
    public static let defaultSide = 512

    public var prompt: String
    public var negativePrompt: String?
    /// How many images, 1 … ``maxImages``.
    public var count: Int
    /// The first image's seed; image `i` uses `seed + i`. `nil` lets the generator choose.
    public var seed: UInt32?
    public var steps: Int?
    public var guidanceScale: Double?
    /// `nil`: the model version's default, else ``defaultSide``.
    public var width: Int?
    /// `nil`: the model version's default, else ``defaultSide``.
    public var height: Int?
    /// The model version the requester pinned (`/ox --model NAME`); `nil` lets Drover assign one
    /// to each image, blinded, by weight.
    public var modelVersion: String?

    /// The size to make: the one asked for, else ``defaultSide`` square.
    public var size: (width: Int, height: Int) { (width ?? Self.defaultSide, height ?? Self.defaultSide) }

    /// Validates and normalises a request.
    /// - Throws: ``GenerationRequestError`` naming the first field that is wrong.
    public init(
        prompt: String,
        negativePrompt: String? = nil,
        count: Int = 1,
        seed: UInt32? = nil,
        steps: Int? = nil,
        guidanceScale: Double? = nil,
        width: Int? = nil,
        height: Int? = nil,
        modelVersion: String? = nil
    ) throws(GenerationRequestError) {
        let trimmed = prompt.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw .emptyPrompt }
        guard trimmed.utf8.count <= Self.maxPromptBytes, (negativePrompt?.utf8.count ?? 0) <= Self.maxPromptBytes else {
            throw .promptTooLong(limit: Self.maxPromptBytes)
        }
        guard !Self.hasControlCharacters(trimmed), !Self.hasControlCharacters(negativePrompt ?? "") else { throw .controlCharacters }
        guard (1...Self.maxImages).contains(count) else { throw .badCount(limit: Self.maxImages) }
        try Self.validate(steps: steps, guidanceScale: guidanceScale, width: width, height: height)
        if let modelVersion, !ModelVersionName.isValid(modelVersion) { throw .badModelVersion }
        self.prompt = trimmed
        self.negativePrompt = negativePrompt.map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        self.count = count
        self.seed = seed
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.width = width
        self.height = height
        self.modelVersion = modelVersion
    }

    /// The request with what it leaves open taken from `defaults`.
    public func resolved(with defaults: GenerationDefaults) -> GenerationRequest {
        var resolved = self
        resolved.negativePrompt = negativePrompt ?? defaults.negativePrompt
        resolved.steps = steps ?? defaults.steps
        resolved.guidanceScale = guidanceScale ?? defaults.guidanceScale
        resolved.width = width ?? defaults.width
        resolved.height = height ?? defaults.height
        return resolved
    }

    /// Checks the settings a request and a model version's defaults share.
    /// - Throws: ``GenerationRequestError`` naming the first one out of range.
    public static func validate(steps: Int?, guidanceScale: Double?, width: Int?, height: Int?) throws(GenerationRequestError) {
        for side in [width, height].compactMap(\.self) where !(64...2048).contains(side) || !side.isMultiple(of: 8) {
            throw .badSize
        }
        if let steps, !(1...150).contains(steps) { throw .badSteps }
        if let guidanceScale, !(0...30).contains(guidanceScale) { throw .badGuidance }
    }

    /// Whether `text` holds a control character other than tab and line breaks (NUL would cut the
    /// prompt short in the ledger; escapes have no place in a prompt).
    private static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control && !["\t", "\n", "\r"].contains($0) }
    }
}

/// Why a ``GenerationRequest`` was refused; the description is shown to the requester.
public enum GenerationRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyPrompt
    case promptTooLong(limit: Int)
    case badCount(limit: Int)
    case badSize
    case badSteps
    case badGuidance
    case controlCharacters
    case badModelVersion

    public var description: String {
        switch self {
        case .emptyPrompt: "the prompt is empty"
        case .promptTooLong(let limit): "the prompt is longer than \(limit) bytes"
        case .badCount(let limit): "the number of images must be between 1 and \(limit)"
        case .badSize: "width and height must be multiples of 8 between 64 and 2048"
        case .badSteps: "steps must be between 1 and 150"
        case .badGuidance: "guidance scale must be between 0 and 30"
        case .controlCharacters: "the prompt contains control characters"
        case .badModelVersion: "a model version is 1 to 100 letters, digits, dots, dashes or underscores"
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing whitespace and newlines.
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
