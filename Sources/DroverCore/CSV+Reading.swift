/// RFC 4180 CSV reading: the inverse of ``CSV/line(_:)``.
extension CSV {
    /// A document that is not valid CSV; the message names the line.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The records of `document`, each a list of fields. Quoted fields may hold commas, quotes
    /// (doubled) and line breaks; `\r\n` and `\n` both end a record; a final line break is optional.
    /// - Throws: ``ParseError`` for a quote left open or text right after a closing quote.
    public static func records(in document: some StringProtocol) throws(ParseError) -> [[String]] {
        let bytes = Array(document.utf8)
        var records: [[String]] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var index = 0
        var line = 1
        var atFieldStart = true
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if atFieldStart, byte == UInt8(ascii: "\"") {
                let opened = line
                index += 1
                while true {
                    guard index < bytes.count else { throw ParseError(description: "line \(opened): a quoted field is never closed") }
                    let quoted = bytes[index]
                    if quoted == UInt8(ascii: "\"") {
                        if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                            field.append(quoted)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    if quoted == UInt8(ascii: "\n") { line += 1 }
                    field.append(quoted)
                    index += 1
                }
                guard index == bytes.count || [UInt8(ascii: ","), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(bytes[index]) else {
                    throw ParseError(description: "line \(line): text after a closing quote")
                }
                atFieldStart = false
                continue
            }
            switch byte {
            case UInt8(ascii: ","):
                endField()
                atFieldStart = true
            case UInt8(ascii: "\r") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n"):
                break
            case UInt8(ascii: "\n"):
                endField()
                records.append(fields)
                fields.removeAll(keepingCapacity: true)
                atFieldStart = true
                line += 1
            default:
                field.append(byte)
                atFieldStart = false
            }
            index += 1
        }
        if !atFieldStart || !fields.isEmpty || !field.isEmpty {
            endField()
            records.append(fields)
        }
        return records
    }
}
