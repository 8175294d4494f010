import DroverCore
import DroverDataset
import DroverStore
import Foundation
import Hummingbird
import Logging

/// The JSON routes behind the dashboard's figures (documented in `docs/dashboard.md`, for
/// notebooks and Grafana too): the overview, the image grid and one image, the dataset's
/// history, the raters; and `POST /api/reverts`, the same revert as `drover revert`.
struct DashboardAPIController {
    let ledger: Ledger
    let inbox: Inbox
    let committerDoorbell: Doorbell
    let dataset: DatasetHistory
    /// `nil` without `DROVER_DATASET_REMOTE`.
    let pusher: DatasetPusher?

    /// The most commits one history page or one image shows with their rows.
    static let maxCommits = 50

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/api/dashboard/overview", use: overview)
        router.get("/api/dashboard/images", use: images)
        router.get("/api/dashboard/images/:id", use: image)
        router.get("/api/dashboard/history", use: history)
        router.get("/api/dashboard/raters", use: raters)
        router.post("/api/reverts", use: revert)
    }

    // MARK: - Overview

    struct Overview: ResponseEncodable {
        struct DayVotes: Encodable {
            var day: String
            var approvals: Int
            var disapprovals: Int
        }
        struct DayCommits: Encodable {
            var day: String
            var commits: Int
        }
        struct CommitRate: Encodable {
            var lastHour: Int
            var lastDay: Int
            var perDay: Double
            enum CodingKeys: String, CodingKey {
                case lastHour = "last_hour"
                case lastDay = "last_day"
                case perDay = "per_day"
            }
        }
        struct Waiting: Encodable {
            var inboxDepth: Int
            var uncommittedChanges: Int
            /// `nil` without a remote, or before the first push.
            var unpushedCommits: Int?
            enum CodingKeys: String, CodingKey {
                case inboxDepth = "inbox_depth"
                case uncommittedChanges = "uncommitted_changes"
                case unpushedCommits = "unpushed_commits"
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(inboxDepth, forKey: .inboxDepth)
                try container.encode(uncommittedChanges, forKey: .uncommittedChanges)
                try container.encode(unpushedCommits, forKey: .unpushedCommits)
            }
        }
        var days: Int
        var votesPerDay: [DayVotes]
        var commitsPerDay: [DayCommits]
        var commitRate: CommitRate
        var modelVersions: [String]
        var waiting: Waiting
        enum CodingKeys: String, CodingKey {
            case days, waiting
            case votesPerDay = "votes_per_day"
            case commitsPerDay = "commits_per_day"
            case commitRate = "commit_rate"
            case modelVersions = "model_versions"
        }
    }

    @Sendable func overview(request: Request, context: DroverRequestContext) async throws -> Overview {
        let days = try request.uri.queryParameters.integer("days", in: 1...365, default: 30)
        let now = Date()
        // Midnight UTC, `days - 1` days ago: the window is whole days, today's included.
        let start = Date(timeIntervalSince1970: ((now.timeIntervalSince1970 / 86_400).rounded(.down) - Double(days - 1)) * 86_400)
        let votes = try ledger.dailyVotes(since: start, until: now)
        let commitDates = try await dataset.commitDates(since: start)
        var commitsByDay: [String: Int] = [:]
        for date in commitDates { commitsByDay[Self.day(date), default: 0] += 1 }
        var unpushed: Int?
        if let lastPushed = pusher?.status.lastPushed { unpushed = try await dataset.commitCount(after: lastPushed) }
        let waiting = Overview.Waiting(inboxDepth: try inbox.depth(), uncommittedChanges: try ledger.uncommittedChanges(), unpushedCommits: unpushed)
        return Overview(
            days: days,
            votesPerDay: votes.map { .init(day: $0.day, approvals: $0.approvals, disapprovals: $0.disapprovals) },
            commitsPerDay: votes.map { .init(day: $0.day, commits: commitsByDay[$0.day, default: 0]) },
            commitRate: .init(
                lastHour: commitDates.count { $0 > now - 3600 }, lastDay: commitDates.count { $0 > now - 86_400 },
                perDay: Double(commitDates.count) / Double(days)
            ),
            modelVersions: try ledger.modelVersionsByRecency(), waiting: waiting
        )
    }

    // MARK: - Images

    enum ImageList {
        struct Item: PageItem {
            static let listKey = "images"
            var card: ImageCard
            /// The asking rater's rating, when the request named a rater.
            var yours: VoteChoice??
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(card.id, forKey: .id)
                try container.encode("/images/\(card.id).png", forKey: .url)
                try container.encode(card.prompt, forKey: .prompt)
                try container.encode(Timestamp.iso8601(card.createdAt), forKey: .createdAt)
                try container.encode(card.approvals, forKey: .approvals)
                try container.encode(card.disapprovals, forKey: .disapprovals)
                if let yours { try container.encode(yours, forKey: .yourRating) }
            }
            enum CodingKeys: String, CodingKey {
                case id, url, prompt, approvals, disapprovals
                case createdAt = "created_at"
                case yourRating = "your_rating"
            }
        }
    }

    @Sendable func images(request: Request, context: DroverRequestContext) async throws -> Page<ImageList.Item> {
        let parameters = request.uri.queryParameters
        let query = ImageQuery(
            text: try parameters.text("q", maxBytes: 200), modelVersion: try parameters.text("model_version", maxBytes: 200),
            state: try parameters.choice("state"), source: try parameters.choice("source"), order: try parameters.choice("sort") ?? .newest,
            limit: try parameters.integer("limit", in: 1...ImageQuery.maxLimit, default: 24),
            offset: try parameters.integer("offset", in: 0...10_000_000, default: 0)
        )
        let page = try ledger.images(query)
        let rater = try parameters.text("rater", maxBytes: 100)
        let ratings = try rater.map { try ledger.ratings(by: $0, of: page.images.map(\.id)) } ?? [:]
        let items = page.images.map { card in
            ImageList.Item(card: card, yours: rater.map { _ in ratings[card.id].map(VoteChoice.init) })
        }
        return Page(items: items, nextOffset: page.nextOffset)
    }

    struct OneImage: ResponseEncodable {
        var id: ImageID
        var url: String
        var approvals: Int
        var disapprovals: Int
        var committedIn: String?
        var provenance: ImageProvenance
        var events: [VoteEvent]
        var commits: [Commit]
        enum CodingKeys: String, CodingKey {
            case id, url, approvals, disapprovals, provenance, events, commits
            case committedIn = "committed_in"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(url, forKey: .url)
            try container.encode(approvals, forKey: .approvals)
            try container.encode(disapprovals, forKey: .disapprovals)
            try container.encode(committedIn, forKey: .committedIn)
            try container.encode(provenance, forKey: .provenance)
            try container.encode(events, forKey: .events)
            try container.encode(commits, forKey: .commits)
        }
    }

    @Sendable func image(request: Request, context: DroverRequestContext) async throws -> OneImage {
        let text = try context.parameters.require("id")
        guard let id = ImageID(validating: text) else { throw HTTPError(.badRequest, message: "an image id is 16 lowercase hex digits") }
        guard let detail = try ledger.imageDetail(id) else { throw HTTPError(.notFound, message: "no image \(id)") }
        // The commits that hold the image and its vote events, newest first.
        var shas: [String] = []
        for sha in [detail.commitSHA] + detail.events.map(\.commitSHA) {
            if let sha, !shas.contains(sha) { shas.append(sha) }
        }
        let active = Set(try ledger.votes(on: id).map(\.eventID))
        let commits = try await commits(Array(shas.suffix(Self.maxCommits)).reversed())
        return OneImage(
            id: id, url: "/images/\(id).png", approvals: detail.approvals, disapprovals: detail.disapprovals, committedIn: detail.commitSHA,
            provenance: detail.provenance,
            events: detail.events.map { VoteEvent(event: $0, isActive: $0.id.map(active.contains) ?? false) }, commits: commits
        )
    }

    // MARK: - History

    @Sendable func history(request: Request, context: DroverRequestContext) async throws -> Page<Commit> {
        let parameters = request.uri.queryParameters
        let limit = try parameters.integer("limit", in: 1...Self.maxCommits, default: 10)
        let offset = try parameters.integer("offset", in: 0...10_000_000, default: 0)
        let shas = try await dataset.commitHashes(skip: offset, limit: limit + 1)
        return Page(items: try await commits(Array(shas.prefix(limit))), nextOffset: shas.count > limit ? offset + limit : nil)
    }

    /// Commits in the order given, each with the rows it changed and the vote events it holds.
    private func commits(_ shas: [String]) async throws -> [Commit] {
        let events = Dictionary(grouping: try ledger.voteEvents(inCommits: shas)) { $0.event.commitSHA ?? "" }
        return try await dataset.show(commits: shas).map { detail in
            Commit(detail: detail, events: events[detail.sha, default: []].map { VoteEvent(event: $0.event, isActive: $0.isActive) })
        }
    }

    // MARK: - Raters

    enum Raters {
        struct Item: PageItem {
            static let listKey = "raters"
            var summary: RaterSummary
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(summary.rater, forKey: .rater)
                try container.encode(summary.votes, forKey: .votes)
                try container.encode(summary.approvals, forKey: .approvals)
                try container.encode(Double(summary.approvals) / Double(summary.votes), forKey: .approvalRate)
                try container.encode(summary.withMajority, forKey: .withMajority)
                try container.encode(summary.agreeing, forKey: .agreeing)
                let agreement = summary.withMajority > 0 ? Double(summary.agreeing) / Double(summary.withMajority) : nil
                try container.encode(agreement, forKey: .agreementRate)
                try container.encode(Timestamp.iso8601(summary.lastVotedAt), forKey: .lastVotedAt)
            }
            enum CodingKeys: String, CodingKey {
                case rater, votes, approvals, agreeing
                case approvalRate = "approval_rate"
                case withMajority = "with_majority"
                case agreementRate = "majority_agreement"
                case lastVotedAt = "last_voted_at"
            }
        }
    }

    @Sendable func raters(request: Request, context: DroverRequestContext) async throws -> Page<Raters.Item> {
        let parameters = request.uri.queryParameters
        let limit = try parameters.integer("limit", in: 1...500, default: 100)
        let offset = try parameters.integer("offset", in: 0...10_000_000, default: 0)
        let summaries = try ledger.raterSummaries(limit: limit + 1, offset: offset)
        return Page(items: summaries.prefix(limit).map(Raters.Item.init), nextOffset: summaries.count > limit ? offset + limit : nil)
    }

    // MARK: - Reverts

    struct RevertBody: Decodable {
        var voteEvent: Int64?
        var commit: String?
        var reason: String
        enum CodingKeys: String, CodingKey {
            case commit, reason
            case voteEvent = "vote_event"
        }
    }

    struct RevertAccepted: ResponseEncodable {
        var changeSet: Int64
        var scope: String
        var reason: String
        var voteEvents: [Int64]
        enum CodingKeys: String, CodingKey {
            case scope, reason
            case changeSet = "change_set"
            case voteEvents = "vote_events"
        }
    }

    /// Records the revert in the ledger — the change set `drover revert` records — and rings the
    /// committer, which commits it on its own under a subject with the reason; answers 202.
    @Sendable func revert(request: Request, context: DroverRequestContext) async throws -> EditedResponse<RevertAccepted> {
        let body = try await request.decode(as: RevertBody.self, context: context)
        let reason = body.reason.trimmingWhitespace()
        guard !reason.isEmpty, reason.utf8.count <= 500 else { throw HTTPError(.badRequest, message: "reason must be 1 to 500 bytes") }
        guard !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw HTTPError(.badRequest, message: "reason must be one line of text")
        }
        let selection: RevertSelection
        switch (body.voteEvent, body.commit) {
        case (let id?, nil):
            selection = .voteEvents([id])
        case (nil, let commit?):
            guard commit.utf8.count <= 64, commit.allSatisfy(\.isHexDigit), !commit.isEmpty else {
                throw HTTPError(.badRequest, message: "commit must be a commit hash (hex digits)")
            }
            do {
                selection = .commit(try await dataset.resolve(commit))
            } catch {
                throw HTTPError(.notFound, message: "no commit \(commit) in the dataset")
            }
        default:
            throw HTTPError(.badRequest, message: "give exactly one of vote_event (a vote event id) or commit (a commit hash)")
        }
        let result: ChangeSetResult
        do {
            result = try ledger.revert(selection, reason: reason)
        } catch let error as ChangeSetError {
            switch error {
            case .unknownVoteEvents: throw HTTPError(.notFound, message: error.description)
            case .nothingToRevert: throw HTTPError(.conflict, message: error.description)
            case .emptyReason, .unknownImage: throw HTTPError(.badRequest, message: error.description)
            }
        }
        committerDoorbell.ring()
        context.logger.info("revert recorded", metadata: ["change_set": "\(result.changeSet.id ?? 0)", "scope": "\(selection)"])
        return EditedResponse(
            status: .accepted,
            response: RevertAccepted(
                changeSet: result.changeSet.id ?? 0, scope: result.changeSet.scope, reason: reason, voteEvents: result.voteEvents.compactMap(\.id)
            )
        )
    }

    // MARK: - Shapes shared by the routes

    /// A vote event as the dashboard's routes write it.
    struct VoteEvent: Encodable {
        var event: VoteEventRecord
        /// Whether the rating it set is still active (so a revert would take it out).
        var isActive: Bool

        enum CodingKeys: String, CodingKey {
            case id, rater, rating, source, active
            case imageID = "image_id"
            case previousRating = "previous_rating"
            case occurredAt = "occurred_at"
            case commit
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(event.id, forKey: .id)
            try container.encode(event.imageID, forKey: .imageID)
            try container.encode(event.rater, forKey: .rater)
            try container.encode(event.rating, forKey: .rating)
            try container.encode(event.previousRating, forKey: .previousRating)
            try container.encode(event.source, forKey: .source)
            try container.encode(Timestamp.iso8601(event.occurredAt), forKey: .occurredAt)
            try container.encode(event.commitSHA, forKey: .commit)
            try container.encode(isActive, forKey: .active)
        }
    }

    /// A dataset commit with the rows it added and removed (as column → value) and the
    /// vote events it holds.
    struct Commit: PageItem {
        static let listKey = "commits"
        var detail: DatasetCommitDetail
        var events: [VoteEvent]

        enum CodingKeys: String, CodingKey {
            case sha, parents, date, subject, message
            case addedRows = "added_rows"
            case removedRows = "removed_rows"
            case addedImages = "added_images"
            case rowsNotListed = "rows_not_listed"
            case imagesNotListed = "images_not_listed"
            case voteEvents = "vote_events"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(detail.sha, forKey: .sha)
            try container.encode(detail.parents, forKey: .parents)
            try container.encode(detail.date, forKey: .date)
            try container.encode(String(detail.message.prefix { $0 != "\n" }), forKey: .subject)
            try container.encode(detail.message, forKey: .message)
            try container.encode(detail.addedRows.map(Self.fields), forKey: .addedRows)
            try container.encode(detail.removedRows.map(Self.fields), forKey: .removedRows)
            try container.encode(detail.addedImages, forKey: .addedImages)
            try container.encode(detail.rowsNotListed, forKey: .rowsNotListed)
            try container.encode(detail.imagesNotListed, forKey: .imagesNotListed)
            try container.encode(events, forKey: .voteEvents)
        }

        /// A rows line as its columns, by name.
        private static func fields(_ line: String) -> [String: String] {
            let values = (try? CSV.records(in: line + "\n").first) ?? []
            return Dictionary(zip(TrainingRow.columns, values)) { $1 }
        }
    }

    /// `YYYY-MM-DD` of `date` in UTC.
    private static func day(_ date: Date) -> String { String(Timestamp.iso8601(date).prefix(10)) }
}

extension Parameters {
    /// A whole-number query parameter within `range`.
    func integer(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws -> Int {
        guard let text = self[Substring(name)] else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw HTTPError(.badRequest, message: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A text query parameter of at most `maxBytes`; `nil` when absent or empty.
    func text(_ name: String, maxBytes: Int) throws -> String? {
        guard let text = self[Substring(name)].map(String.init), !text.isEmpty else { return nil }
        guard text.utf8.count <= maxBytes else { throw HTTPError(.badRequest, message: "\(name) must be at most \(maxBytes) bytes") }
        return text
    }

    /// A query parameter that must be one of `Value`'s names; `nil` when absent or empty.
    func choice<Choice: RawRepresentable & CaseIterable>(_ name: String) throws -> Choice? where Choice.RawValue == String {
        guard let text = self[Substring(name)].map(String.init), !text.isEmpty else { return nil }
        guard let value = Choice(rawValue: text) else {
            throw HTTPError(.badRequest, message: "\(name) must be one of: \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

/// What a paged listing lists, and under which key.
protocol PageItem: Encodable {
    static var listKey: String { get }
}

/// One page of a listing: `{"<Item.listKey>": […], "next_offset": <the next page's offset, or null>}`.
struct Page<Item: PageItem>: ResponseEncodable {
    var items: [Item]
    var nextOffset: Int?

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: Item.listKey))
        try container.encode(nextOffset, forKey: Key(stringValue: "next_offset"))
    }
}
