import FoundationEssentials

/// The images of a backend's answer: base64 text that must decode to PNG files.
enum Base64PNG {
    /// Decodes every image, checking that there are as many as were asked for and that each is a PNG.
    /// - Parameters:
    ///   - images: the base64 text of each image; `nil` for an image the answer left out.
    ///   - expected: how many images were asked for.
    /// - Throws: ``GeneratorError`` naming the first image that is missing, not base64 or not a PNG.
    static func decode(_ images: [String?], expected: Int) throws(GeneratorError) -> [[UInt8]] {
        guard images.count == expected else {
            throw GeneratorError("the backend returned \(images.count) images for \(expected) asked")
        }
        return try images.enumerated().map { (index, text) throws(GeneratorError) in
            guard let text, let data = Data(base64Encoded: text) else {
                throw GeneratorError("image \(index + 1) of the backend's answer is not base64 image data")
            }
            let bytes = [UInt8](data)
            guard bytes.starts(with: PNGEncoder.signature) else {
                throw GeneratorError("image \(index + 1) of the backend's answer is not a PNG")
            }
            return bytes
        }
    }
}
