/// What a model version uses for the settings a request leaves open.
public struct GenerationDefaults: Hashable, Sendable {
    public var steps: Int?
    public var guidanceScale: Double?
    public var width: Int?
    public var height: Int?
    public var negativePrompt: String?

    /// No defaults: the backend's own.
    public init() {}

    /// Defaults within the ranges a request may ask for.
    /// - Throws: ``GenerationRequestError`` naming the first one out of range.
    public init(
        steps: Int? = nil, guidanceScale: Double? = nil, width: Int? = nil, height: Int? = nil, negativePrompt: String? = nil
    ) throws(GenerationRequestError) {
        try GenerationRequest.validate(steps: steps, guidanceScale: guidanceScale, width: width, height: height)
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.width = width
        self.height = height
        self.negativePrompt = negativePrompt
    }
}

/// The rules for a model version's name, which is the `model_version` column: 1 to 100 ASCII
/// letters, digits, `.`, `-` or `_` — safe in a CSV cell, a Prometheus label, a URL query and a
/// comma-separated `--versions A,B` list.
public enum ModelVersionName {
    /// Whether `name` follows the rules.
    public static func isValid(_ name: String) -> Bool {
        (1...100).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || [0x2E, 0x2D, 0x5F].contains(byte)
        }
    }
}
