/// A count with its noun, singular or plural: `1 vote`, `2 votes`.
public func counted(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
