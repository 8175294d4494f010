/// A JSON object: its members in document order. Reading one scans them, which for the handful
/// of members in Slack's objects is faster than building a dictionary; of repeated keys, the
/// last one counts.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { (key: $0, value: $1) }
    }

    /// The value of the last member named `key`.
    public subscript(key: String) -> JSONValue? {
        members.last { $0.key == key }?.value
    }

    /// Equal when the same keys have equal values, in any order.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.byKey == rhs.byKey
    }

    private var byKey: [String: JSONValue] {
        Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }
}
