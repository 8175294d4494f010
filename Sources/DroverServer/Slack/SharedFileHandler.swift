import DroverCore
import DroverSlack
import DroverStore
import Foundation
import Logging

/// Listener mode: an image that another bot (`DROVER_LISTEN_BOT_USER`) shared becomes a dataset
/// image, and the message that shares it counts 👍 / 👎 reactions as votes on it.
///
/// `files.info` gives the file and the messages sharing it; right after `file_shared` the share's
/// ts may not be known yet, so the handler asks again a few times, backing off, then gives up.
/// The download uses the bot token. Files that are not PNG images are ignored. A redelivered or
/// repeated `file_shared` finds the image and the message already recorded and changes nothing.
struct SharedFileHandler: InboxHandler {
    static let kind = "slack-file"
    var kind: String { Self.kind }

    let ledger: Ledger
    let slack: any SlackWebAPI
    let committerDoorbell: Doorbell
    let pseudonymizer: RaterPseudonymizer
    let modelVersion: String
    /// Waits between asks for a share's ts; bounded, so a file never shared is given up on.
    var shareWaits: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8)]
    let logger: Logger

    static let maxDownloadBytes = 32 << 20

    func handle(_ item: InboxItem) async throws {
        let share = try JSONDecoder().decode(FileShare.self, from: item.payload)
        let metadata: Logger.Metadata = ["file_id": "\(share.fileID)", "channel": "\(share.channel)"]
        var file = try await slack.fileInfo(share.fileID)
        guard file.mimetype == "image/png", let url = file.urlPrivateDownload else {
            logger.info("shared file is not a PNG image; ignored", metadata: metadata)
            return
        }
        var waits = shareWaits[...]
        while file.shareTS(in: share.channel) == nil, let wait = waits.popFirst() {
            try await Task.sleep(for: wait)
            file = try await slack.fileInfo(share.fileID)
        }
        guard let ts = file.shareTS(in: share.channel) else {
            logger.warning("the sharing message never appeared in files.info; giving up", metadata: metadata)
            return
        }
        let png = try await slack.download(url, limit: Self.maxDownloadBytes)
        guard png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            logger.info("shared file is not PNG data; ignored", metadata: metadata)
            return
        }
        let imageID = ImageID(pngBytes: png)
        let now = Date()
        let generation = GenerationRecord(
            id: "slack-file:\(share.fileID)", prompt: Self.prompt(for: file), negativePrompt: nil, steps: nil, guidanceScale: nil,
            width: 0, height: 0, model: "external:\(share.user)", modelVersion: modelVersion, backend: "external",
            requestedBy: pseudonymizer.pseudonym(team: share.teamID, user: share.user), createdAt: now
        )
        let image = ImageRecord(
            id: imageID, generationID: generation.id, position: 0, seed: nil, png: Data(png),
            postedTo: "slack:\(share.teamID)/\(share.channel)", createdAt: now
        )
        try ledger.record([generation], images: [image])
        try ledger.record(SlackMessageRecord(channel: share.channel, ts: ts, imageID: imageID, teamID: share.teamID, fileID: share.fileID, postedAt: now))
        committerDoorbell.ring()
        logger.info("collected a shared image", metadata: metadata.merging(["image_id": "\(imageID)", "ts": "\(ts)"]) { $1 })
    }

    /// The prompt of an external image: the file's title, else its name without extension.
    static func prompt(for file: SlackFile) -> String {
        let title = (file.title ?? "").trimmingWhitespace()
        if !title.isEmpty { return title }
        let name = file.name ?? file.id
        return name.hasSuffix(".png") ? String(name.dropLast(4)) : name
    }
}
