/// The members of a JSON object, read with their types checked. A member that is absent or
/// `null` is `nil` for the optional readers; one of another type is an error naming its path.
public struct JSONFields: Sendable {
    private let members: JSONObject
    private let path: String

    /// - Throws: ``JSONShapeError`` when `value` is not an object.
    public init(_ value: JSONValue, path: String = "") throws(JSONShapeError) {
        guard case .object(let members) = value else { throw .wrongType(path.isEmpty ? "the top level" : path) }
        self.members = members
        self.path = path
    }

    public func string(_ key: String) throws(JSONShapeError) -> String {
        guard let value = try optionalString(key) else { throw .missing(pathTo(key)) }
        return value
    }

    public func optionalString(_ key: String) throws(JSONShapeError) -> String? {
        try read(key) { if case .string(let text) = $0 { text } else { nil } }
    }

    public func bool(_ key: String) throws(JSONShapeError) -> Bool {
        guard let value = try optionalBool(key) else { throw .missing(pathTo(key)) }
        return value
    }

    public func optionalBool(_ key: String) throws(JSONShapeError) -> Bool? {
        try read(key) { if case .bool(let value) = $0 { value } else { nil } }
    }

    public func optionalObject(_ key: String) throws(JSONShapeError) -> JSONFields? {
        guard let value = members[key], value != .null else { return nil }
        return try JSONFields(value, path: pathTo(key))
    }

    /// An array of objects.
    public func optionalObjects(_ key: String) throws(JSONShapeError) -> [JSONFields]? {
        guard let elements = try read(key, { if case .array(let elements) = $0 { elements } else { nil } }) else { return nil }
        var objects: [JSONFields] = []
        for (position, element) in elements.enumerated() {
            objects.append(try JSONFields(element, path: "\(pathTo(key)).\(position)"))
        }
        return objects
    }

    private func read<T>(_ key: String, _ cast: (JSONValue) -> T?) throws(JSONShapeError) -> T? {
        guard let value = members[key], value != .null else { return nil }
        guard let typed = cast(value) else { throw .wrongType(pathTo(key)) }
        return typed
    }

    private func pathTo(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}

/// Why a JSON document is not the object expected.
public enum JSONShapeError: Error, Equatable, CustomStringConvertible {
    /// A required member (dotted path) is absent or `null`.
    case missing(String)
    /// A member (dotted path) has another type.
    case wrongType(String)

    public var description: String {
        switch self {
        case .missing(let path): "missing \(path)"
        case .wrongType(let path): "wrong type at \(path)"
        }
    }
}
