import DroverCore
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Testing

/// Slack delivers reaction events unordered; the rating must not depend on the order.
@Suite struct ReactionOrderTests {
    /// Applies reaction events one transaction each, as the vote lane and the Slack intake do.
    private func deliver(_ events: [ReactionEvent], to ledger: Ledger) throws {
        for event in events {
            try ledger.database.write { db in
                if let command = try Ledger.vote(for: event, source: .slackReaction, in: db) { _ = try Ledger.apply(command, in: db) }
            }
        }
    }

    private func rating(of rater: String, on image: ImageID, in ledger: Ledger) throws -> Rating? {
        try ledger.database.read { db in try Ledger.currentRating(of: image, by: rater, in: db) }
    }

    @Test func inOrderTheNewestReactionStillPresentIsTheRating() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let image = fixture.images[0]
        func event(_ rating: Rating, added: Bool, at time: Int64) -> ReactionEvent {
            ReactionEvent(imageID: image, rater: "r", rating: rating, added: added, eventTime: time)
        }
        try deliver([event(.approve, added: true, at: 1), event(.disapprove, added: true, at: 2)], to: fixture.ledger)
        #expect(try rating(of: "r", on: image, in: fixture.ledger) == .disapprove)
        try deliver([event(.approve, added: false, at: 3)], to: fixture.ledger)
        #expect(try rating(of: "r", on: image, in: fixture.ledger) == .disapprove, "removing the 👍 leaves the 👎")
        try deliver([event(.approve, added: true, at: 4), event(.approve, added: false, at: 5)], to: fixture.ledger)
        #expect(try rating(of: "r", on: image, in: fixture.ledger) == .disapprove)
        try deliver([event(.approve, added: true, at: 6), event(.disapprove, added: false, at: 7)], to: fixture.ledger)
        #expect(try rating(of: "r", on: image, in: fixture.ledger) == .approve, "the 👍 is still there")
        try deliver([event(.approve, added: false, at: 8)], to: fixture.ledger)
        #expect(try rating(of: "r", on: image, in: fixture.ledger) == nil)
    }

    @Test func anyDeliveryOrderEndsAtTheSameRating() throws {
        let fixture = try LedgerFixture()
        defer { fixture.directory.remove() }
        let image = fixture.images[0]
        var generator = SplitMix(seed: 42)
        for trial in 0..<300 {
            // What a rater really did: toggles of 👍 / 👎, one event each, at increasing times.
            var present: [Rating: Int64] = [:]
            var events: [ReactionEvent] = []
            for step in 0..<Int(generator.next() % 8 + 1) {
                let rating: Rating = generator.next() % 2 == 0 ? .approve : .disapprove
                let added = present[rating] == nil
                present[rating] = added ? Int64(step) : nil
                events.append(ReactionEvent(imageID: image, rater: "t\(trial)", rating: rating, added: added, eventTime: Int64(step)))
            }
            // Redeliveries too: Slack retries.
            events += events.filter { _ in generator.next() % 4 == 0 }
            var shuffled = events
            shuffled.shuffle(using: &generator)

            try deliver(shuffled, to: fixture.ledger)

            let expected = present.max { $0.value < $1.value }?.key
            #expect(try rating(of: "t\(trial)", on: image, in: fixture.ledger) == expected, "trial \(trial): \(shuffled)")
        }
    }
}
