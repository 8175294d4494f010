import FoundationEssentials
import NIOCore

/// A `multipart/form-data` body (RFC 7578) of file parts, as Oxen's upload route reads them.
struct MultipartForm {
    let boundary = "drover-" + UUID().uuidString.lowercased()
    private var buffer = ByteBuffer()

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// Adds one file part. `filename` is the path under the upload's directory.
    mutating func addFile(field: String, filename: String, contentType: String, bytes: [UInt8]) {
        let escaped = filename.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        buffer.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(escaped)\"\r\nContent-Type: \(contentType)\r\n\r\n")
        buffer.writeBytes(bytes)
        buffer.writeString("\r\n")
    }

    /// The body, closed.
    func body() -> ByteBuffer {
        var body = buffer
        body.writeString("--\(boundary)--\r\n")
        return body
    }
}
