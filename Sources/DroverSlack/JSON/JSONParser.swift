extension JSONValue {
    /// Objects and arrays nest at most this deep; a deeper document is refused rather than
    /// parsed on an ever deeper stack.
    public static let maxDepth = 64

    /// Parses one JSON document (RFC 8259), with whitespace around it and nothing else.
    /// - Throws: ``JSONSyntaxError`` with the byte offset where the document stops being JSON:
    ///   bad syntax, invalid UTF-8, control characters or unpaired surrogates in strings, nesting
    ///   deeper than ``maxDepth``.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONSyntaxError) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> in
            var parser = JSONParser(buffer)
            return Result { () throws(JSONSyntaxError) in try parser.document() }
        }
        self = try (bytes.withContiguousStorageIfAvailable(parse) ?? Array(bytes).withUnsafeBufferPointer(parse)).get()
    }
}

/// Why bytes are not a JSON document, and where.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    /// Bytes from the start of the document.
    public var offset: Int

    public var description: String { "malformed JSON at byte \(offset): \(reason)" }
}

/// A recursive-descent parser over a byte buffer. Strings without escapes, nearly all of
/// Slack's, become `String`s straight from the buffer.
private struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws(JSONSyntaxError) -> JSONValue {
        let value = try value()
        skipWhitespace()
        guard index == bytes.count else { throw failure("data after the JSON value") }
        return value
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard let byte = peek() else { throw failure("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character")
        }
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) {
            depth -= 1
            return .object(JSONObject(members))
        }
        repeat {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            members.append((key, try value()))
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        depth -= 1
        return .object(JSONObject(members))
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) {
            depth -= 1
            return .array(elements)
        }
        repeat {
            elements.append(try value())
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        depth -= 1
        return .array(elements)
    }

    private mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= JSONValue.maxDepth else { throw failure("nested deeper than \(JSONValue.maxDepth) levels") }
        index += 1
    }

    /// A string literal, from its opening quote.
    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1
        let start = index
        var isASCII = true
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<index])
                // ASCII is valid UTF-8: no validation (whose generic entry point is slow) needed.
                let text = isASCII ? String(decoding: utf8, as: UTF8.self) : try validated(utf8, from: start)
                index += 1
                return text
            case UInt8(ascii: "\\"):
                return try escapedString(from: start)
            case ..<0x20:
                throw failure("control character in a string")
            default:
                isASCII = isASCII && byte < 0x80
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    /// The rest of a string literal that has escapes, from the first backslash.
    private mutating func escapedString(from start: Int) throws(JSONSyntaxError) -> String {
        var decoded = Array(bytes[start..<index])
        while let byte = peek() {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try decoded.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try validated(buffer, from: start) }
            case UInt8(ascii: "\\"):
                guard let escape = peek() else { throw failure("unterminated string") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"): decoded.append(contentsOf: String(Character(try unicodeEscape())).utf8)
                default: throw failure("invalid escape")
                }
            case ..<0x20:
                index -= 1
                throw failure("control character in a string")
            default:
                decoded.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    /// The scalar of a `\uXXXX` escape (after the `u`), joining a surrogate pair.
    private mutating func unicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let first = try hexQuad()
        if (0xD800...0xDBFF).contains(first) {
            guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")) else { throw failure("unpaired surrogate") }
            let second = try hexQuad()
            guard (0xDC00...0xDFFF).contains(second) else { throw failure("unpaired surrogate") }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(first) else { throw failure("unpaired surrogate") }
        return scalar
    }

    private mutating func hexQuad() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = Self.hexDigitValue(byte) else { throw failure("invalid \\u escape") }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private static func hexDigitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        if !consume(UInt8(ascii: "0")) {
            try digits()
        }
        if consume(UInt8(ascii: ".")) {
            try digits()
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            _ = consume(UInt8(ascii: "+")) || consume(UInt8(ascii: "-"))
            try digits()
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// One or more decimal digits.
    private mutating func digits() throws(JSONSyntaxError) {
        let start = index
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            index += 1
        }
        guard index > start else { throw failure("expected a digit") }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let spelling = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= spelling.count, bytes[index..<index + spelling.count].elementsEqual(spelling) else {
            throw failure("unexpected character")
        }
        index += spelling.count
    }

    private func validated(_ utf8: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONSyntaxError) -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw JSONSyntaxError(reason: "invalid UTF-8 in a string", offset: start)
        }
        return text
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(JSONSyntaxError) {
        guard consume(byte) else { throw failure("expected “\(Character(Unicode.Scalar(byte)))”") }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            index += 1
        }
    }

    private func failure(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(reason: reason, offset: index)
    }
}
