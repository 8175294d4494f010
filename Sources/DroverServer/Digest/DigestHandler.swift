import DroverSlack
import DroverStore
import Foundation
import Logging

/// Posts the digest a ``DigestService`` asked for, to the digest channel — or nothing, when no
/// one voted in the period.
struct DigestHandler: InboxHandler {
    static let kind = "slack-digest"
    var kind: String { Self.kind }

    let ledger: Ledger
    let slack: any SlackWebAPI
    let settings: DigestSettings
    let publicURL: String?
    let logger: Logger

    func handle(_ item: InboxItem) async throws {
        let job = try JSONDecoder().decode(DigestJob.self, from: item.payload)
        let digest = try ledger.digest(from: job.periodStart, to: job.periodEnd)
        let metadata: Logger.Metadata = ["key": "\(item.idempotencyKey)", "channel": "\(settings.channel)", "votes": "\(digest.votes)"]
        guard digest.votes > 0 else {
            logger.info("no votes in the period: no digest", metadata: metadata)
            return
        }
        let message = DigestMessage(digest: digest, job: job, schedule: settings.schedule, publicURL: publicURL)
        let posted: SlackMessageRef
        do {
            do {
                posted = try await slack.postMessage(channel: settings.channel, text: message.text, blocksJSON: message.blocksJSON())
            } catch let error as SlackAPIError where error.error == "invalid_blocks" {
                // A file this bot may not show (another bot's, in listener mode): by URL instead.
                logger.warning("the digest's Slack files were refused; posting it without them", metadata: metadata)
                posted = try await slack.postMessage(channel: settings.channel, text: message.text, blocksJSON: message.blocksJSON(slackFiles: false))
            }
        } catch let error as SlackAPIError where error.isNotInChannel {
            logger.error("Drover is not in the digest channel: invite it there with /invite @Drover", metadata: metadata)
            throw error
        }
        logger.info("posted the digest", metadata: metadata.merging(["ts": "\(posted.ts)"]) { $1 })
    }
}
