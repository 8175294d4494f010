import Crypto
import DroverCore

/// The embedded default generator: paints a deterministic picture from the prompt and seed.
///
/// The prompt chooses the palette and one shape per word; the seed chooses the layout. The same
/// (prompt, seed, size) always gives byte-identical PNGs. It needs no GPU and no network, so
/// Drover works end to end out of the box.
public struct ProceduralGenerator: ImageGenerator {
    public let backend = "procedural"
    public let model = "drover-procedural-1"

    public init() {}

    public func generate(_ request: GenerationRequest) async throws -> [GeneratedImage] {
        let firstSeed = request.seed ?? UInt32.random(in: 0...UInt32.max)
        return (0..<request.count).map { index in
            let seed = firstSeed &+ UInt32(index)
            return GeneratedImage(
                png: Self.paint(prompt: request.prompt, seed: seed, width: request.size.width, height: request.size.height),
                seed: seed, steps: nil, guidanceScale: nil, width: request.size.width, height: request.size.height, model: model
            )
        }
    }

    /// Always healthy: it runs in-process.
    public func checkHealth() async throws {}

    /// The PNG for one (prompt, seed, size).
    public static func paint(prompt: String, seed: UInt32, width: Int, height: Int) -> [UInt8] {
        var canvas = Canvas(width: width, height: height)
        let promptDigest = Array(SHA256.hash(data: Array(prompt.lowercased().utf8)))
        canvas.fillVerticalGradient(
            top: Colour(promptDigest[0], promptDigest[1], promptDigest[2]).darkened(),
            bottom: Colour(promptDigest[3], promptDigest[4], promptDigest[5])
        )
        var random = SplitMix64(seed: UInt64(seed) ^ promptDigest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) })
        let words = prompt.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).prefix(24)
        let scale = Double(min(width, height))
        for word in words.isEmpty ? [Substring(prompt)] : Array(words) {
            let wordDigest = Array(SHA256.hash(data: Array(word.utf8)))
            let colour = Colour(wordDigest[0], wordDigest[1], wordDigest[2])
            let centreX = random.unit() * Double(width)
            let centreY = random.unit() * Double(height)
            let size = scale * (0.06 + 0.22 * random.unit()) * (1 + Double(word.count) / 12)
            switch wordDigest[3] % 3 {
            case 0: canvas.fillCircle(centreX: centreX, centreY: centreY, radius: size, colour: colour)
            case 1: canvas.fillRing(centreX: centreX, centreY: centreY, radius: size, thickness: size * 0.3, colour: colour)
            default: canvas.fillRectangle(x: centreX - size, y: centreY - size * 0.6, width: size * 2, height: size * 1.2, colour: colour)
            }
        }
        return PNGEncoder.encode(rgb: canvas.pixels, width: width, height: height)
    }
}

/// An 8-bit RGB colour.
struct Colour {
    var red: UInt8, green: UInt8, blue: UInt8
    init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }
    func darkened() -> Colour { Colour(red / 3, green / 3, blue / 3) }
}

extension SplitMix64 {
    /// A value in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
