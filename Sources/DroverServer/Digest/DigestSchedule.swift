import Foundation

/// When the Slack digest is due: every day, or every week on one weekday, at a local time of day
/// in a time zone (`DROVER_DIGEST_EVERY`, `_AT`, `_DAY`, `_TIMEZONE`).
///
/// A digest due at one of these instants covers the votes from the instant before it up to it;
/// its *period* is named by the local date it is due on, which is also its inbox key.
public struct DigestSchedule: Sendable, Equatable, CustomStringConvertible {
    /// How often a digest is due.
    public enum Frequency: String, Sendable {
        case daily, weekly
    }

    /// Every day, or every week on ``weekday``.
    public var frequency: Frequency
    /// The local hour of day it is due at, 0–23.
    public var hour: Int
    /// The minute of that hour, 0–59.
    public var minute: Int
    /// The time zone ``hour`` and ``minute`` are in; its daylight-saving changes are followed.
    public var timeZone: TimeZone
    /// Weekly digests: the weekday, as `Calendar` numbers them (1 = Sunday … 7 = Saturday).
    public var weekday: Int

    /// Weekday names as `DROVER_DIGEST_DAY` spells them, in `Calendar`'s order (Sunday first).
    static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    /// A schedule; the defaults are 09:00 UTC, and Mondays for a weekly one.
    public init(frequency: Frequency, hour: Int = 9, minute: Int = 0, timeZone: TimeZone = TimeZone(identifier: "UTC")!, weekday: Int = 2) {
        precondition((0..<24).contains(hour) && (0..<60).contains(minute) && (1...7).contains(weekday), "a time of day and a weekday")
        self.frequency = frequency
        self.hour = hour
        self.minute = minute
        self.timeZone = timeZone
        self.weekday = weekday
    }

    private var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The latest instant a digest was due at or before `date`: the start of the period `date` is in.
    public func latestDue(atOrBefore date: Date) -> Date {
        let calendar = calendar
        var day = calendar.startOfDay(for: date)
        while true {
            if let due = due(on: day, calendar), due <= date { return due }
            day = calendar.date(byAdding: .day, value: -1, to: day)!
        }
    }

    /// The first instant a digest is due after `date`.
    public func nextDue(after date: Date) -> Date {
        let calendar = calendar
        var day = calendar.startOfDay(for: date)
        while true {
            if let due = due(on: day, calendar), due > date { return due }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
    }

    /// The instant a digest was due before the one due at `due`: where its period's votes start.
    public func previousDue(before due: Date) -> Date {
        latestDue(atOrBefore: due.addingTimeInterval(-1))
    }

    /// The local date of `date`, `yyyy-MM-dd`: a due instant's name.
    public func localDate(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// The local date and time of `date`, `yyyy-MM-dd HH:mm`.
    public func localDateTime(of date: Date) -> String {
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return localDate(of: date) + String(format: " %02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }

    /// The digest's instant on the local day starting at `day`, if one is due that day. A time of day
    /// that a daylight-saving change skips falls on the next valid time.
    private func due(on day: Date, _ calendar: Calendar) -> Date? {
        guard frequency == .daily || calendar.component(.weekday, from: day) == weekday else { return nil }
        return calendar.date(bySettingHour: hour, minute: minute, second: 0, of: day)
    }

    /// The schedule in words: "weekly on mondays at 09:00 UTC".
    public var description: String {
        let time = String(format: "%02d:%02d", hour, minute)
        let day = frequency == .weekly ? " on \(Self.weekdayNames[weekday - 1])s" : ""
        return "\(frequency.rawValue)\(day) at \(time) \(timeZone.identifier)"
    }
}

/// The Slack digest's settings: where it goes and when (`DROVER_DIGEST_*`).
public struct DigestSettings: Sendable, Equatable {
    /// The channel id the digest is posted to (`DROVER_DIGEST_CHANNEL`).
    public var channel: String
    /// When it is due.
    public var schedule: DigestSchedule

    /// Reads the digest settings; `nil` when `DROVER_DIGEST_CHANNEL` is not set.
    /// - Throws: ``ConfigurationError`` naming a setting that is wrong, or set without the channel.
    init?(_ value: (String) -> String?) throws(ConfigurationError) {
        let others = ["DROVER_DIGEST_EVERY", "DROVER_DIGEST_AT", "DROVER_DIGEST_DAY", "DROVER_DIGEST_TIMEZONE"]
        guard let channel = value("DROVER_DIGEST_CHANNEL") else {
            if let stray = others.first(where: { value($0) != nil }) {
                throw ConfigurationError("\(stray) needs DROVER_DIGEST_CHANNEL, the channel id the digest is posted to")
            }
            return nil
        }
        guard channel.utf8.count <= 100, channel.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw ConfigurationError("DROVER_DIGEST_CHANNEL must be a channel id such as C0123ABCD (in Slack: the channel's details, at the bottom)")
        }
        self.channel = channel
        let everyText = value("DROVER_DIGEST_EVERY") ?? DigestSchedule.Frequency.daily.rawValue
        guard let frequency = DigestSchedule.Frequency(rawValue: everyText.lowercased()) else {
            throw ConfigurationError("DROVER_DIGEST_EVERY must be daily or weekly, not \"\(everyText)\"")
        }
        let atText = value("DROVER_DIGEST_AT") ?? "09:00"
        let time = atText.split(separator: ":", omittingEmptySubsequences: false)
        guard time.count == 2, time[1].count == 2, let hour = Int(time[0]), let minute = Int(time[1]),
              (0..<24).contains(hour), (0..<60).contains(minute)
        else {
            throw ConfigurationError("DROVER_DIGEST_AT must be a time of day as HH:MM (24-hour), not \"\(atText)\"")
        }
        let zoneText = value("DROVER_DIGEST_TIMEZONE") ?? "UTC"
        guard let timeZone = TimeZone(identifier: zoneText) else {
            throw ConfigurationError("DROVER_DIGEST_TIMEZONE must be an IANA time zone name such as Europe/Berlin or UTC, not \"\(zoneText)\"")
        }
        var weekday = 2
        if let dayText = value("DROVER_DIGEST_DAY") {
            guard frequency == .weekly else { throw ConfigurationError("DROVER_DIGEST_DAY is only for DROVER_DIGEST_EVERY=weekly") }
            guard let index = DigestSchedule.weekdayNames.firstIndex(where: { $0 == dayText.lowercased() || $0.prefix(3) == dayText.lowercased() }) else {
                throw ConfigurationError("DROVER_DIGEST_DAY must be a weekday (monday … sunday), not \"\(dayText)\"")
            }
            weekday = index + 1
        }
        schedule = DigestSchedule(frequency: frequency, hour: hour, minute: minute, timeZone: timeZone, weekday: weekday)
    }
}
