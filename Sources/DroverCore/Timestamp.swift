import FoundationEssentials

/// The dataset's timestamp spelling: ISO 8601 in UTC with milliseconds.
public enum Timestamp {
    /// `date` as `2026-11-29T01:57:56.123Z`.
    public static func iso8601(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
