import DroverCore
import DroverSlack
import DroverStore
import Logging

/// Keeps the 👍 / 👎 counts on Slack image messages current with `chat.update`, debounced: votes
/// arriving close together cause one update per message (chat.update is rate limited, Tier 3).
actor TallyUpdater {
    private let ledger: Ledger
    private let slack: any SlackWebAPI
    private let delay: Duration
    private let logger: Logger
    private var pending: Set<ImageID> = []
    private var flushing: Task<Void, Never>?

    init(ledger: Ledger, slack: any SlackWebAPI, delay: Duration = .seconds(1), logger: Logger) {
        self.ledger = ledger
        self.slack = slack
        self.delay = delay
        self.logger = logger
    }

    /// Asks for the messages showing `imageID` to be updated soon.
    func schedule(_ imageID: ImageID) {
        pending.insert(imageID)
        guard flushing == nil else { return }
        flushing = Task {
            try? await Task.sleep(for: delay)
            await flush()
        }
    }

    private func flush() async {
        let imageIDs = pending
        pending = []
        flushing = nil
        for imageID in imageIDs {
            do {
                let tallies = try ledger.tallies(of: imageID)
                for message in try ledger.slackMessages(showing: imageID) {
                    guard let details = try ledger.imageDetails(imageID) else { continue }
                    let content = ImageMessage(
                        imageID: imageID, fileID: message.fileID, prompt: details.prompt, seed: details.seed,
                        approvals: tallies.approvals, disapprovals: tallies.disapprovals
                    )
                    try await slack.updateMessage(
                        SlackMessageRef(channel: message.channel, ts: message.ts), text: content.text, blocksJSON: content.blocksJSON()
                    )
                }
            } catch {
                logger.warning("could not update a message's tallies", metadata: ["image_id": "\(imageID)", "error": "\(error)"])
            }
        }
    }
}
