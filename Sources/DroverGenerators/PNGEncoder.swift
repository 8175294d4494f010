import CZlib

/// Encodes 8-bit RGB pixels as a PNG file (one IDAT chunk, zlib-compressed, filter "Sub").
public enum PNGEncoder {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// - Parameters:
    ///   - rgb: `width * height * 3` bytes, row by row, top to bottom.
    ///   - width: pixels per row.
    ///   - height: rows.
    public static func encode(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(rgb.count == width * height * 3, "pixel buffer does not match the size")
        var png = signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type RGB, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", deflate(filteredScanlines(rgb: rgb, width: width, height: height)), to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Each row prefixed with filter type 1 (Sub): a byte minus the same channel of the pixel to its left.
    private static func filteredScanlines(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        let stride = width * 3
        var out = [UInt8](repeating: 0, count: height * (stride + 1))
        rgb.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for row in 0..<height {
                    let base = row * stride
                    let outBase = row * (stride + 1)
                    target[outBase] = 1
                    for column in 0..<stride {
                        let left = column >= 3 ? source[base + column - 3] : 0
                        target[outBase + 1 + column] = source[base + column] &- left
                    }
                }
            }
        }
        return out
    }

    private static func deflate(_ data: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { target in
            data.withUnsafeBufferPointer { source in
                compress2(target.baseAddress, &capacity, source.baseAddress, uLong(data.count), 6)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        return Array(out.prefix(Int(capacity)))
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        png.appendBigEndian(UInt32(data.count))
        png += typeBytes
        png += data
        var crc: uLong = 0
        for bytes in [typeBytes, data] where !bytes.isEmpty {
            crc = bytes.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        }
        png.appendBigEndian(UInt32(crc))
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24 & 0xff))
        append(UInt8(value >> 16 & 0xff))
        append(UInt8(value >> 8 & 0xff))
        append(UInt8(value & 0xff))
    }
}
