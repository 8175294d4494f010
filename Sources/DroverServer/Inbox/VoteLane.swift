import DroverCore
import DroverSlack
import DroverStore
import Foundation
import Logging

/// The inbox items that are votes, by where they came from.
enum VoteItem: String, CaseIterable {
    /// The web page and the JSON API: the item holds the ``VoteCommand`` itself.
    case web = "vote"
    /// A 👍 / 👎 reaction added or removed in Slack (``ReactionChange``).
    case slackReaction = "slack-reaction"
    /// A click on a Slack vote button (``ButtonVote``).
    case slackButton = "slack-button"

    static let kinds = Set(allCases.map(\.rawValue))
}

/// The one path every vote takes out of the inbox: up to ``batchLimit`` pending vote items, in
/// inbox order, read into ``VoteIntent``s and applied by the ledger in one transaction that also
/// marks them done (``Ledger/applyVotes(_:)``) — one fsync for the batch. An item that fails is
/// tried again in a later batch, until it is set aside after ``Inbox/maxAttempts``. Once a batch
/// commits, its votes are announced (``VoteAnnouncer``).
struct VoteLane: InboxLane {
    let inbox: Inbox
    let ledger: Ledger
    let pseudonymizer: RaterPseudonymizer
    let announcer: VoteAnnouncer
    let logger: Logger
    /// The most items one transaction applies: bounds how long the ledger's write lock is held,
    /// which acknowledgements (inbox writes) wait for.
    var batchLimit = 128
    /// How long to wait before the next batch after a batch of more than one vote.
    static let gatherPause: Duration = .milliseconds(5)

    var kinds: Set<String> { VoteItem.kinds }

    func drain(stopping: @Sendable () -> Bool) async throws {
        while !stopping() {
            let items = try inbox.pending(kinds: kinds, limit: batchLimit)
            guard !items.isEmpty else { return }
            let outcome = try await ledger.applyVotes(items.map { item in (item, Result { try intent(of: item) }) })
            for (item, error) in outcome.failures {
                logger.error("vote item failed", metadata: [
                    "inbox_id": "\(item.id ?? 0)", "kind": "\(item.kind)", "attempt": "\(item.attempts)", "error": "\(error)",
                ])
            }
            await announcer.announce(outcome.events)
            // Under load, a moment's wait lets the next batch gather more votes: fewer
            // transactions and wake-ups per vote. Acknowledgements do not wait for this.
            if items.count > 1 && items.count < batchLimit { try? await Task.sleep(for: Self.gatherPause) }
        }
    }

    /// What a vote item asks for, read from its payload.
    func intent(of item: InboxItem) throws -> VoteIntent {
        switch VoteItem(rawValue: item.kind) {
        case .web:
            return .command(try JSONDecoder().decode(VoteCommand.self, from: item.payload))
        case .slackReaction:
            let change = try JSONDecoder().decode(ReactionChange.self, from: item.payload)
            // Without an event_ts (Slack always sends one), the event counts as happening when it arrived.
            let eventTime = change.eventTime ?? Int64(item.receivedAt.timeIntervalSince1970 * 1_000_000)
            return .reaction(MessageReaction(
                channel: change.channel, messageTS: change.messageTS, rater: pseudonymizer.pseudonym(team: change.teamID, user: change.user),
                rating: change.rating, added: change.added, eventTime: eventTime
            ))
        case .slackButton:
            let click = try JSONDecoder().decode(ButtonVote.self, from: item.payload)
            return .toggle(
                imageID: click.imageID, rater: pseudonymizer.pseudonym(team: click.teamID, user: click.user), rating: click.rating,
                occurredAt: item.receivedAt
            )
        case nil:
            throw VoteLaneError.notAVote(kind: item.kind)
        }
    }
}

/// What follows once votes are in the ledger: the votes metric, a ring for the committer, and
/// refreshed 👍 / 👎 counts on the Slack messages of the images they changed.
struct VoteAnnouncer: Sendable {
    let metrics: DroverMetrics
    let committerDoorbell: Doorbell
    /// Refreshes the 👍 / 👎 counts on Slack messages; `nil` without Slack.
    let tallies: TallyUpdater?

    func announce(_ events: [VoteEventRecord]) async {
        guard !events.isEmpty else { return }
        for event in events { metrics.vote(source: event.source) }
        committerDoorbell.ring()
        for imageID in Set(events.map(\.imageID)) { await tallies?.schedule(imageID) }
    }
}

/// Why a vote item could not be read.
enum VoteLaneError: Error, CustomStringConvertible {
    case notAVote(kind: String)

    var description: String {
        switch self {
        case .notAVote(let kind): "inbox items of kind \(kind) are not votes"
        }
    }
}
