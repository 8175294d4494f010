import DroverCore
import Foundation

/// Approval figures in words for Slack messages (`/ox stats`, the digest).
enum ApprovalText {
    /// A share as a percentage with one decimal: 0.6125 → "61.3 %".
    static func percent(_ share: Double) -> String {
        String(format: "%.1f %%", share * 100)
    }

    /// One version's line: "`v1`: 61.3 % approved (95 % interval 48.0–72.9 %), 40 votes on 20 images".
    static func line(_ version: DatasetStatistics.ModelVersion) -> String {
        let images = version.images == 1 ? "1 image" : "\(version.images) images"
        guard let rate = version.approvalRate, let interval = version.approvalInterval else {
            return "`\(version.modelVersion)`: no votes yet (\(images))"
        }
        let votes = version.votes == 1 ? "1 vote" : "\(version.votes) votes"
        let range = String(format: "%.1f–%.1f %%", interval.lower * 100, interval.upper * 100)
        return "`\(version.modelVersion)`: \(percent(rate)) approved (95 % interval \(range)), \(votes) on \(images)"
    }

    /// Text safe inside Slack's mrkdwn: `&`, `<` and `>` escaped, as Slack asks.
    static func escaped(_ text: some StringProtocol) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
