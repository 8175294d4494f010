import DroverCore
import DroverDataset
@testable import DroverServer
import DroverSlack
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A wall clock the test moves by hand; the digest service sleeps on it.
final class TestDigestClock: DigestClock {
    private let state: Mutex<(now: Date, sleepingUntil: Date?)>

    init(_ now: Date) { state = Mutex((now, nil)) }

    var now: Date { state.withLock { $0.now } }
    /// The deadline the service is waiting for, once it waits.
    var sleepingUntil: Date? { state.withLock { $0.sleepingUntil } }

    func advance(to date: Date) { state.withLock { $0.now = date } }

    func sleep(until deadline: Date) async throws {
        state.withLock { $0.sleepingUntil = deadline }
        while now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}

/// Waits until no server in this process holds the dataset in `directory`: a stopped server's
/// last references (its connections' router) go away a moment after it stops.
func waitForDatasetLock(_ directory: TemporaryDirectory) async throws {
    try await eventually("the previous server to let go of the dataset") {
        (try? DatasetLock.acquire(for: directory.path + "/dataset")) != nil
    }
}

private func date(_ text: String) throws -> Date {
    try #require(ISO8601DateFormatter().date(from: text))
}

@Suite struct DigestScheduleTests {
    /// Daily at 09:00 in Berlin, across the switch to summer time (2026-03-29): the period before
    /// it is 23 hours, and each digest is named by its local date.
    @Test func dailyFollowsTheLocalTimeOfDay() throws {
        let schedule = DigestSchedule(frequency: .daily, hour: 9, minute: 0, timeZone: try #require(TimeZone(identifier: "Europe/Berlin")))
        let due = schedule.latestDue(atOrBefore: try date("2026-03-29T08:00:00Z"))
        #expect(due == (try date("2026-03-29T07:00:00Z")))
        #expect(schedule.previousDue(before: due) == (try date("2026-03-28T08:00:00Z")))
        #expect(schedule.nextDue(after: due) == (try date("2026-03-30T07:00:00Z")))
        #expect(schedule.latestDue(atOrBefore: due) == due, "a digest due now is the current one")
        #expect(schedule.localDate(of: due) == "2026-03-29")
        #expect(schedule.localDateTime(of: schedule.previousDue(before: due)) == "2026-03-28 09:00")
        // Just before 09:00 local, the period is still yesterday's.
        #expect(schedule.localDate(of: schedule.latestDue(atOrBefore: try date("2026-03-29T06:59:00Z"))) == "2026-03-28")
    }

    @Test func weeklyFallsOnItsWeekday() throws {
        let monday = DigestSchedule(frequency: .weekly, hour: 9, minute: 30)
        let wednesday = try date("2026-03-04T12:00:00Z")
        #expect(monday.latestDue(atOrBefore: wednesday) == (try date("2026-03-02T09:30:00Z")))
        #expect(monday.nextDue(after: wednesday) == (try date("2026-03-09T09:30:00Z")))
        #expect(monday.previousDue(before: try date("2026-03-02T09:30:00Z")) == (try date("2026-02-23T09:30:00Z")))

        let configured = try #require(try testSlackConfiguration([
            "DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_EVERY": "weekly", "DROVER_DIGEST_DAY": "Fri",
            "DROVER_DIGEST_AT": "17:05", "DROVER_DIGEST_TIMEZONE": "America/New_York",
        ]).slack?.digest)
        #expect(configured.channel == "C0DIGEST")
        #expect(configured.schedule.description == "weekly on fridays at 17:05 America/New_York")
        #expect(configured.schedule.latestDue(atOrBefore: wednesday) == (try date("2026-02-27T22:05:00Z")))
    }

    @Test func defaultsAreDailyAtNineUTC() throws {
        let settings = try testSlackConfiguration(["DROVER_DIGEST_CHANNEL": "C0DIGEST"])
        #expect(settings.slack?.digest?.schedule == DigestSchedule(frequency: .daily))
        #expect(try testSlackConfiguration([:]).slack?.digest == nil)
        #expect(try testSlackConfiguration(["DROVER_PUBLIC_URL": "https://drover.example.com/team/"]).publicURL == "https://drover.example.com/team")
    }

    @Test func mistakesNameTheSetting() {
        let mistakes: [([String: String], String)] = [
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_EVERY": "hourly"], "DROVER_DIGEST_EVERY must be daily or weekly"),
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_AT": "9"], "DROVER_DIGEST_AT must be a time of day as HH:MM"),
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_AT": "24:00"], "DROVER_DIGEST_AT must be a time of day as HH:MM"),
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_TIMEZONE": "Mars/Olympus"], "DROVER_DIGEST_TIMEZONE must be an IANA time zone"),
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_DAY": "monday"], "DROVER_DIGEST_DAY is only for DROVER_DIGEST_EVERY=weekly"),
            (["DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_EVERY": "weekly", "DROVER_DIGEST_DAY": "someday"], "DROVER_DIGEST_DAY must be a weekday"),
            (["DROVER_DIGEST_CHANNEL": "#general"], "DROVER_DIGEST_CHANNEL must be a channel id"),
            (["DROVER_DIGEST_EVERY": "daily"], "DROVER_DIGEST_EVERY needs DROVER_DIGEST_CHANNEL"),
            (["DROVER_PUBLIC_URL": "drover.example.com"], "DROVER_PUBLIC_URL must be an http or https address"),
            (["DROVER_PUBLIC_URL": "ftp://drover.example.com"], "DROVER_PUBLIC_URL must be an http or https address"),
        ]
        for (settings, message) in mistakes {
            #expect(throws: ConfigurationError.self, "\(settings)") { try testSlackConfiguration(settings) }
            do {
                _ = try testSlackConfiguration(settings)
            } catch {
                #expect(error.description.hasPrefix(message), "\(error)")
            }
        }
        #expect(throws: ConfigurationError.self, "a digest needs Slack") {
            try DroverConfiguration(environment: ["DROVER_DIGEST_CHANNEL": "C0DIGEST"])
        }
    }

    private func testSlackConfiguration(_ extra: [String: String]) throws(ConfigurationError) -> DroverConfiguration {
        try DroverConfiguration(environment: [
            "SLACK_BOT_TOKEN": FakeSlack.botToken, "SLACK_SIGNING_SECRET": signingSecret,
        ].merging(extra) { $1 })
    }
}

@Suite struct DigestTests {
    /// The digest is asked for at start (for the current period: no votes, so nothing is posted) and
    /// when due (the period's votes: posted, with approval per version, image blocks, the most
    /// disputed prompt and the dashboard link). A second server on the same data in the same period
    /// posts nothing more, and the next period, without votes, posts nothing.
    @Test func postedOncePerPeriodAcrossRestartsAndNeverWithoutVotes() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let start = Date()
            let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
            // Due about an hour from now, Berlin time: the votes below fall into its period.
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = berlin
            let inAnHour = calendar.dateComponents([.hour, .minute], from: start.addingTimeInterval(3_600))
            let schedule = DigestSchedule(frequency: .daily, hour: inAnHour.hour!, minute: inAnHour.minute!, timeZone: berlin)
            let due = schedule.nextDue(after: start)
            let settings = [
                "DROVER_DIGEST_CHANNEL": "C0DIGEST", "DROVER_DIGEST_TIMEZONE": "Europe/Berlin",
                "DROVER_DIGEST_AT": String(format: "%02d:%02d", inAnHour.hour!, inAnHour.minute!), "DROVER_PUBLIC_URL": "https://drover.example.com",
            ]
            @Sendable func digests() -> [FakeSlack.Call] { fake.calls("chat.postMessage").filter { $0.fields["channel"] == "C0DIGEST" } }
            @Sendable func handledDigests() throws -> Int {
                try ledgerCount("SELECT count(*) FROM inboxItem WHERE kind = 'slack-digest' AND state = 'done'", directory)
            }

            let firstClock = TestDigestClock(start)
            try await digestApp(directory, fake, settings, clock: firstClock).test(.live) { client in
                try await eventually("the service to wait for the digest") { firstClock.sleepingUntil == due }
                try await eventually("the current period's digest handled") { try handledDigests() == 1 }
                #expect(digests().isEmpty, "no votes, no digest")

                _ = try await client.slashCommand("--n 3 --seed 5 an ox", fake: fake)
                try await eventually("three image messages") { fake.posted.count == 3 }
                let web = try await client.post("/api/generations", json: #"{"prompt": "a web ox", "seed": 1, "width": 64, "height": 64}"#)
                let webImage = try #require((try web.json()["images"] as? [[String: Any]])?.first?["id"] as? String)
                let (liked, disliked, split) = (fake.posted[0], fake.posted[1], fake.posted[2])
                for (ts, alice, bob) in [(liked, "+1", "+1"), (disliked, "-1", "-1"), (split, "+1", "-1")] {
                    _ = try await client.reaction("reaction_added", alice, by: "U0ALICE", on: ts)
                    _ = try await client.reaction("reaction_added", bob, by: "U0BOB", on: ts)
                }
                _ = try await client.post("/api/votes", json: #"{"image_id": "\#(webImage)", "rater": "carol", "rating": "up"}"#)
                try await eventually("the votes") { try ledgerCount("SELECT count(*) FROM vote", directory) == 7 }

                firstClock.advance(to: due)
                try await eventually("the digest") { digests().count == 1 }
                let blocks = try #require(digests()[0].fields["blocks"])
                #expect(blocks.contains("*7 votes* from *3 raters* on *4 images*"), "\(blocks)")
                #expect(blocks.contains("`0-1`: 57.1 % approved (95 % interval "), "approval per version with its interval: \(blocks)")
                let likedMessage = try #require(fake.state.withLock { $0.postedBlocks[liked] })
                let likedFileID = try #require(likedMessage.firstMatch(of: #/"slack_file":\{"id":"(F\d+)"\}/#)?.output.1)
                #expect(blocks.contains(#""slack_file":{"id":"\#(likedFileID)"}"#), "an image posted to Slack is shown by its file")
                #expect(blocks.contains(#""image_url":"https://drover.example.com/images/\#(webImage).png""#), "a web image by its URL")
                #expect(blocks.contains("*Best rated*") && blocks.contains("*Worst rated*"))
                #expect(blocks.contains("1. 👍 0 · 👎 2"), "the worst image, under its picture")
                #expect(!blocks.contains(fake.image(inMessage: split)!), "a split image is neither best nor worst")
                #expect(blocks.contains("*Most disputed prompt:* “an ox” — 👍 3 · 👎 3 on 3 images"), "\(blocks)")
                #expect(blocks.contains("<https://drover.example.com/|Open the dashboard>"))
                try await eventually("the next day's wait") { firstClock.sleepingUntil == schedule.nextDue(after: due) }
            }

            // Restarted within the same period: the digest is not posted again.
            try await waitForDatasetLock(directory)
            let secondClock = TestDigestClock(due.addingTimeInterval(30))
            try await digestApp(directory, fake, settings, clock: secondClock).test(.live) { client in
                try await eventually("the service to wait for the next digest") { secondClock.sleepingUntil == schedule.nextDue(after: due) }
                try await eventually("the inbox to drain") { try await client.inboxDepth() == 0 }
                #expect(try handledDigests() == 2)
                #expect(digests().count == 1)

                // The next period has no votes: nothing is posted.
                secondClock.advance(to: schedule.nextDue(after: due))
                try await eventually("the next period's digest handled") { try handledDigests() == 3 }
                #expect(digests().count == 1)
            }
        }
    }

    private func digestApp(
        _ directory: TemporaryDirectory, _ fake: FakeSlack, _ extra: [String: String], clock: TestDigestClock
    ) async throws -> some ApplicationProtocol {
        try await buildApplication(try testConfiguration(directory, [
            "SLACK_BOT_TOKEN": FakeSlack.botToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": fake.apiURL,
        ].merging(extra) { $1 }), logger: testLogger, digestClock: clock)
    }
}
