import FoundationEssentials
import GRDB

extension Date {
    /// The text GRDB stores a `Date` as — `yyyy-MM-dd HH:mm:ss.SSS` in UTC, to the nearest
    /// millisecond — written with integer arithmetic. GRDB's own conversion goes through a
    /// `DateFormatter` (ICU), about 4% of the server's CPU under ingest load; statements on
    /// the ingest path bind this instead. Dates outside years 1970…9999 (no clock gives one) are
    /// left to GRDB.
    var databaseText: String {
        guard (0..<253_402_300_799).contains(timeIntervalSince1970) else { return String.fromDatabaseValue(databaseValue)! }
        let milliseconds = Int64((timeIntervalSince1970 * 1000).rounded())
        let (days, millisecondOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        let fields: [(Int64, Int)] = [
            (year, 4), (month, 2), (day, 2), (millisecondOfDay / 3_600_000, 2),
            (millisecondOfDay / 60_000 % 60, 2), (millisecondOfDay / 1000 % 60, 2), (millisecondOfDay % 1000, 3),
        ]
        let separators: [UInt8] = [UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: ":"), UInt8(ascii: ".")]
        return String(unsafeUninitializedCapacity: 23) { buffer in
            var index = 0
            for (position, (value, width)) in fields.enumerated() {
                var remaining = value
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    buffer[index + offset] = UInt8(ascii: "0") + UInt8(remaining % 10)
                    remaining /= 10
                }
                index += width
                if position < separators.count {
                    buffer[index] = separators[position]
                    index += 1
                }
            }
            return index
        }
    }

    /// The proleptic Gregorian date `days` (≥ 0) after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
