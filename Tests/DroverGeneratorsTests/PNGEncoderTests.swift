import Crypto
import DroverCore
import DroverGenerators
import DroverTestSupport
import Foundation
import Testing

/// Decodes a PNG with Pillow and prints: width height mode sha256(raw RGB bytes).
private let pillowDecode = """
import hashlib, sys
from PIL import Image
with Image.open(sys.argv[1]) as image:
    image.verify()
with Image.open(sys.argv[1]) as image:
    print(image.width, image.height, image.mode, hashlib.sha256(image.tobytes()).hexdigest())
"""

/// Prints the mean absolute difference of two same-sized PNGs, per channel value.
private let pillowDifference = """
import sys
from PIL import Image, ImageChops, ImageStat
a, b = (Image.open(p).convert("RGB") for p in sys.argv[1:3])
print(sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3)
"""

@Suite struct PNGEncoderTests {
    @Test func pillowDecodesExactlyThePixelsEncoded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let width = 37, height = 23
        var rgb: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width { rgb += [UInt8(x * 7 % 256), UInt8(y * 11 % 256), UInt8((x * y) % 256)] }
        }
        let path = directory.path + "/pattern.png"
        try Data(PNGEncoder.encode(rgb: rgb, width: width, height: height)).write(to: URL(filePath: path))

        let decoded = try await runPython(pillowDecode, [path]).trimmingWhitespace().split(separator: " ")
        #expect(decoded == ["37", "23", "RGB", Substring(Hex.encode(SHA256.hash(data: rgb)))])
    }
}

@Suite struct ProceduralGeneratorTests {
    let generator = ProceduralGenerator()

    @Test func samePromptSeedAndSizeGiveIdenticalBytes() async throws {
        let request = try GenerationRequest(prompt: "a fluffy ox eating almonds", count: 2, seed: 42, width: 128, height: 96)
        let first = try await generator.generate(request)
        let second = try await generator.generate(request)
        #expect(first.map(\.png) == second.map(\.png))
        #expect(first.map(\.seed) == [42, 43])
        #expect(first[0].png != first[1].png, "consecutive seeds give different pictures")
    }

    @Test func picturesAreValidPNGsOfTheAskedSize() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let image = try #require(try await generator.generate(try GenerationRequest(prompt: "an ox", seed: 1, width: 200, height: 120)).first)
        let path = directory.path + "/ox.png"
        try Data(image.png).write(to: URL(filePath: path))
        let decoded = try await runPython(pillowDecode, [path]).split(separator: " ")
        #expect(decoded.prefix(3) == ["200", "120", "RGB"])
    }

    @Test func differentPromptsGiveVisiblyDifferentPictures() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var paths: [String] = []
        for prompt in ["a fluffy ox eating almonds", "a red bicycle in the rain"] {
            let image = try #require(try await generator.generate(try GenerationRequest(prompt: prompt, seed: 5, width: 128, height: 128)).first)
            let path = directory.path + "/\(paths.count).png"
            try Data(image.png).write(to: URL(filePath: path))
            paths.append(path)
        }
        let meanDifference = try #require(Double(try await runPython(pillowDifference, paths).trimmingWhitespace()))
        #expect(meanDifference > 20, "mean channel difference \(meanDifference) out of 255")
    }
}
