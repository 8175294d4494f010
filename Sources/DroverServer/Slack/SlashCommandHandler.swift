import Crypto
import DroverCore
import DroverSlack
import DroverStore
import Foundation
import Logging

/// A `/ox` request as the inbox keeps it: who asked where, and what to generate.
struct SlashCommandJob: Codable, Sendable {
    var command: SlashCommand
    var request: GenerationRequest
}

/// Generates the images a `/ox` asked for and posts each as its own message with vote buttons:
/// upload privately (files v2), `chat.postMessage` with the image block, then map the
/// message to the image in the ledger so that reactions on it count.
///
/// Safe to run again after a crash: an unseeded request gets a seed derived from the inbox item,
/// so the same images come out, and images already posted to the channel are skipped.
/// Whatever fails is told to the requester through the command's `response_url`.
struct SlashCommandHandler: InboxHandler {
    static let kind = "slack-command"
    var kind: String { Self.kind }

    let generation: GenerationService
    let ledger: Ledger
    let slack: any SlackWebAPI
    let pseudonymizer: RaterPseudonymizer
    let logger: Logger

    func handle(_ item: InboxItem) async throws {
        let job = try JSONDecoder().decode(SlashCommandJob.self, from: item.payload)
        var request = job.request
        request.seed = request.seed ?? Self.seed(for: item.idempotencyKey)
        await generateAndPost(request, key: item.idempotencyKey, for: job.command)
    }

    /// Does the work, telling the requester about any failure instead of throwing.
    private func generateAndPost(_ request: GenerationRequest, key: String, for command: SlashCommand) async {
        let result: GenerationService.Result
        do {
            result = try await generation.generate(
                request, requestKey: key, requestedBy: pseudonymizer.pseudonym(team: command.teamID, user: command.userID),
                postedTo: "slack:\(command.teamID)/\(command.channelID)"
            )
        } catch {
            await tell(command, "Sorry, I could not generate “\(request.prompt)”: \(error)")
            return
        }
        for failure in result.failures {
            await tell(command, "Sorry, for “\(request.prompt)” \(failure)")
        }
        do {
            for imageID in result.imageIDs where try !ledger.isPosted(imageID, to: command.channelID) {
                try await post(imageID, request: request, for: command)
            }
        } catch let error as SlackAPIError where error.isNotInChannel {
            await tell(command, "I can't post in this channel yet. Invite me with `/invite @Drover` and try again.")
        } catch {
            logger.error("posting to Slack failed", metadata: ["error": "\(error)", "channel": "\(command.channelID)"])
            await tell(command, "Sorry, posting the images to Slack failed: \(error)")
        }
    }

    private func post(_ imageID: ImageID, request: GenerationRequest, for command: SlashCommand) async throws {
        guard let png = try ledger.png(of: imageID), let details = try ledger.imageDetails(imageID) else { return }
        let fileID = try await slack.uploadFile(
            Array(png), filename: "\(imageID).png", title: String(request.prompt.prefix(200)), altText: request.prompt
        )
        let message = ImageMessage(imageID: imageID, fileID: fileID, prompt: details.prompt, seed: details.seed)
        let posted = try await slack.postMessage(channel: command.channelID, text: message.text, blocksJSON: message.blocksJSON())
        try ledger.record(SlackMessageRecord(
            channel: posted.channel, ts: posted.ts, imageID: imageID, teamID: command.teamID, fileID: fileID, postedAt: Date()
        ))
        logger.info("posted image", metadata: ["image_id": "\(imageID)", "channel": "\(posted.channel)", "ts": "\(posted.ts)"])
    }

    private func tell(_ command: SlashCommand, _ text: String) async {
        do {
            try await slack.respond(to: command.responseURL, text: text, inChannel: false)
        } catch {
            logger.error("could not tell the requester", metadata: ["error": "\(error)"])
        }
    }

    /// A seed that depends only on the inbox item, so a retried command makes the same images.
    static func seed(for key: String) -> UInt32 {
        SHA256.hash(data: Array(key.utf8)).prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
