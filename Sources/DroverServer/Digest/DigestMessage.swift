import DroverCore
import DroverSlack
import DroverStore
import Foundation

/// The digest as a Slack message: the period's votes, approval per model version with its
/// interval, the best- and worst-rated images (shown as image blocks where they can be), and the
/// most disputed prompt.
struct DigestMessage {
    var digest: PeriodDigest
    var job: DigestJob
    var schedule: DigestSchedule
    /// `DROVER_PUBLIC_URL`: the dashboard link, and image URLs for images Slack has no file of.
    var publicURL: String?

    /// The plain-text fallback (notifications, screen readers).
    var text: String {
        "Drover digest: \(count(digest.votes, "vote")) since \(schedule.localDateTime(of: job.periodStart))"
    }

    /// The Block Kit blocks as a JSON array.
    /// - Parameter slackFiles: show images Drover posted to Slack by their Slack file; otherwise
    ///   every image goes by its URL on `DROVER_PUBLIC_URL` (or by name only, without one).
    func blocksJSON(slackFiles: Bool = true) -> String {
        var blocks: [BlockKit.Block] = [
            .header(.init(text: .init(text: "Drover digest · \(schedule.localDate(of: job.periodEnd))"))),
            .section(.init(text: .init(text: """
                *\(count(digest.votes, "vote"))* from *\(count(digest.raters, "rater"))* on *\(count(digest.images, "image"))* \
                since \(schedule.localDateTime(of: job.periodStart)) (\(schedule.timeZone.identifier)).
                """))),
            .section(.init(text: .init(text: (["*Approval per model version*"] + digest.modelVersions.map { "• " + ApprovalText.line($0) })
                .joined(separator: "\n")))),
        ]
        for (title, images) in [("Best rated", digest.best), ("Worst rated", digest.worst)] where !images.isEmpty {
            let list = images.enumerated().map { index, image in "\(index + 1). \(quoted(image.prompt)) — \(tally(image)) · `\(image.imageID)`" }
            blocks.append(.section(.init(text: .init(text: (["*\(title)*"] + list).joined(separator: "\n")))))
            for (index, image) in images.enumerated() {
                if let picture = picture(of: image, slackFiles: slackFiles, title: "\(index + 1). \(tally(image))") { blocks.append(.image(picture)) }
            }
        }
        if let disputed = digest.mostDisputed {
            let images = count(disputed.images, "image")
            blocks.append(.section(.init(text: .init(text: """
                *Most disputed prompt:* \(quoted(disputed.prompt)) — 👍 \(disputed.approvals) · 👎 \(disputed.disapprovals) on \(images)
                """))))
        }
        if let publicURL {
            blocks.append(.context(.init(elements: [.init(text: "<\(publicURL)/|Open the dashboard> for the charts, the images and the raters.")])))
        }
        return BlockKit.json(blocks)
    }

    /// The image block for an image: its Slack file when Drover posted it there, else its URL on
    /// `DROVER_PUBLIC_URL`; `nil` when Slack can reach neither.
    private func picture(of image: PeriodDigest.RatedImage, slackFiles: Bool, title: String) -> BlockKit.ImageBlock? {
        let alt = String(image.prompt.prefix(1_900))
        if slackFiles, let fileID = image.slackFileID {
            return BlockKit.ImageBlock(slackFile: .init(id: fileID), altText: alt, title: .init(text: title))
        }
        guard let publicURL else { return nil }
        return BlockKit.ImageBlock(imageURL: "\(publicURL)/images/\(image.imageID).png", altText: alt, title: .init(text: title))
    }

    private func tally(_ image: PeriodDigest.RatedImage) -> String {
        "👍 \(image.approvals) · 👎 \(image.disapprovals)"
    }

    /// A prompt in quotes, shortened to fit a line, safe in mrkdwn.
    private func quoted(_ prompt: String) -> String {
        let short = prompt.count > 150 ? prompt.prefix(149) + "…" : Substring(prompt)
        return "“\(ApprovalText.escaped(short))”"
    }

    private func count(_ number: Int, _ noun: String) -> String {
        number == 1 ? "1 \(noun)" : "\(number) \(noun)s"
    }
}
