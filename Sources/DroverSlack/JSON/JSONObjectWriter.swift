/// Writes a JSON object member by member, straight to bytes, as ``JSONValue/serialized`` would
/// write it: for the payloads stored on the ingest path, without building a ``JSONValue`` first.
struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    init() {
        bytes.reserveCapacity(256)
    }

    mutating func add(_ key: String, _ value: String) {
        start(key)
        JSONValue.write(value, to: &bytes)
    }

    mutating func add(_ key: String, _ value: Bool) {
        start(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// The object's text.
    consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func start(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        JSONValue.write(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }
}
