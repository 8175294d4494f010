import DroverSlack
import DroverTestSupport
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #" { "a": [1, -0.5e+3, 0, true, false, null], "b": {"c": "d\"\\\/\b\f\n\r\t\u00e9\ud83d\udc4d"}, "": "" } "#
        let expected = JSONValue.object([
            "a": .array([.number("1"), .number("-0.5e+3"), .number("0"), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d\"\\/\u{8}\u{c}\n\r\té👍")]),
            "": .string(""),
        ])
        #expect(try JSONValue(parsing: Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end of data"), ("{", "expected a string key"), ("{\"a\" 1}", "expected “:”"), ("[1,]", "unexpected character"),
        ("{\"a\":1,}", "expected a string key"), ("01", "data after the JSON value"), ("1.", "expected a digit"), ("-", "expected a digit"),
        ("1e", "expected a digit"), ("\"abc", "unterminated string"), ("\"a\tb\"", "control character in a string"),
        ("\"\\x\"", "invalid escape"), ("\"\\u12G4\"", "invalid \\u escape"), ("\"\\ud83d\"", "unpaired surrogate"),
        ("\"\\udc4d\"", "unpaired surrogate"), ("\"\\ud83d\\u0041\"", "unpaired surrogate"), ("tru", "unexpected character"),
        ("nul", "unexpected character"), ("{} {}", "data after the JSON value"), ("'a'", "unexpected character"),
        ("[NaN]", "unexpected character"), ("+1", "unexpected character"),
    ])
    func refusesWhatIsNotJSON(_ text: String, _ reason: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(text.utf8)) }
        #expect((try? JSONValue(parsing: Array(text.utf8))) == nil)
        do {
            _ = try JSONValue(parsing: Array(text.utf8))
        } catch {
            #expect(error.reason == reason, "\(text)")
        }
    }

    @Test(arguments: [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0x5C, 0x6E, 0xF5, 0x22]] as [[UInt8]])
    func refusesInvalidUTF8InStrings(_ bytes: [UInt8]) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: bytes) }
    }

    @Test func refusesNestingDeeperThanTheLimitWithoutExhaustingTheStack() throws {
        let limit = JSONValue.maxDepth
        _ = try JSONValue(parsing: Array((String(repeating: "[", count: limit) + String(repeating: "]", count: limit)).utf8))
        let tooDeep = Array(String(repeating: "[", count: limit + 1).utf8) + Array(String(repeating: "]", count: limit + 1).utf8)
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: tooDeep) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(repeating: UInt8(ascii: "{"), count: 1_000_000)) }
    }

    /// Random values survive writing and parsing, and Foundation reads what ``JSONValue/serialized`` writes as the same value.
    @Test func serializedValuesParseBackAndAgreeWithFoundation() throws {
        var random = SplitMix(seed: 0x15_0B)
        for _ in 0..<2_000 {
            let value = Self.randomValue(depth: 0, using: &random)
            let bytes = value.serialized
            #expect(try JSONValue(parsing: bytes) == value)
            let foundation = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            let respelled = try JSONSerialization.data(withJSONObject: foundation, options: [.fragmentsAllowed, .sortedKeys])
            #expect(try JSONValue(parsing: respelled) == value, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    /// Mutated Slack envelopes: whatever Foundation refuses, the parser refuses; whatever it
    /// accepts, the parser accepts too, except trailing commas (`[1,]`), which Foundation allows
    /// and RFC 8259 does not. (Exponents are left out of the mutations: the parser keeps numbers
    /// as written, so it does not refuse `1E99999`, which overflows a `Double`.)
    @Test func acceptsExactlyWhatFoundationAcceptsOnMutatedEnvelopes() {
        let envelope = Array(EventEnvelopeTests.envelope().utf8)
        var random = SplitMix(seed: 0xE7E7)
        let interesting: [UInt8] = Array("{}[]\",:\\/u0123456789.-+ tfnl\u{7}".utf8) + [0x00, 0x80, 0xC3, 0xED, 0xFF]
        for _ in 0..<5_000 {
            var bytes = envelope
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[position] = interesting.randomElement(using: &random)!
                case 1: bytes.insert(interesting.randomElement(using: &random)!, at: position)
                default: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &random)))
                }
            }
            let foundationAccepts = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            let parserAccepts = (try? JSONValue(parsing: bytes)) != nil
            if parserAccepts || !foundationAccepts {
                #expect(parserAccepts == foundationAccepts, "\(String(decoding: bytes, as: UTF8.self))")
            } else {
                let withoutTrailingCommas = String(decoding: bytes, as: UTF8.self).replacing(/,\s*([}\]])/) { $0.output.1 }
                #expect((try? JSONValue(parsing: Array(withoutTrailingCommas.utf8))) != nil, "\(withoutTrailingCommas)")
            }
        }
    }

    static func randomValue(depth: Int, using random: inout SplitMix) -> JSONValue {
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "é", "👍", "中", "\u{7F}"]
        func text() -> String { String((0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! }) }
        switch Int.random(in: 0..<(depth < 4 ? 7 : 5), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .number(String(Int.random(in: -1_000_000...1_000_000, using: &random)))
        case 3, 4: return .string(text())
        case 5: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(depth: depth + 1, using: &random) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &random) { members[text()] = randomValue(depth: depth + 1, using: &random) }
            return .object(JSONObject(members.map { (key: $0.key, value: $0.value) }))
        }
    }
}
