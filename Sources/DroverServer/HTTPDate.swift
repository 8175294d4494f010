import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header of responses Drover writes itself (Hummingbird dates the router's): the
/// current second in RFC 9110's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, formatted once a
/// second rather than once a response.
final class HTTPDateCache: Sendable {
    private struct Formatted {
        var second: time_t
        var text: String
    }

    private let formatted = Mutex(Formatted(second: -1, text: ""))

    /// The current time as a `Date` header value.
    var now: String {
        let second = time(nil)
        return formatted.withLock { formatted in
            if formatted.second != second { formatted = Formatted(second: second, text: Self.format(second)) }
            return formatted.text
        }
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `second` (since 1970, UTC) in IMF-fixdate.
    static func format(_ second: time_t) -> String {
        var time = second
        var parts = tm()
        gmtime_r(&time, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }
}
