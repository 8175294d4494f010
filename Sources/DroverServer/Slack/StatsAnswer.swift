import DroverCore
import DroverStore
import Foundation

/// What `/ox stats` answers, privately: the votes so far, the comparison of the first two model
/// versions with traffic (models-file order; what `drover compare` reports, blinded images only),
/// or each version's approval when fewer have traffic, and a link to the dashboard.
///
/// It is answered in the command's acknowledgement rather than through the inbox: it changes
/// nothing, so there is nothing to keep durable, and it is one read transaction, off the
/// writer's path. Going through the inbox would queue it behind generations for minutes.
struct StatsAnswer: Sendable {
    let ledger: Ledger
    /// The model versions with traffic (weight above 0), in the models file's order.
    let versionsWithTraffic: [String]
    /// `DROVER_PUBLIC_URL`: where the dashboard link points; `nil`, no link.
    let publicURL: String?

    /// The answer, in Slack's mrkdwn.
    func text() throws -> String {
        let statistics = try ledger.statistics()
        let votes = statistics.modelVersions.map(\.votes).reduce(0, +)
        let images = statistics.modelVersions.map(\.images).reduce(0, +)
        var lines = ["*So far:* \(count(votes, "vote")) from \(count(statistics.raters.count, "rater")) on \(count(images, "image"))."]
        if versionsWithTraffic.count >= 2 {
            let (a, b) = (versionsWithTraffic[0], versionsWithTraffic[1])
            let comparison = try ledger.comparison(of: a, and: b)
            lines.append("*`\(b)` against `\(a)`* (blindly assigned images only):")
            lines += [comparison.a, comparison.b].map { "• " + ApprovalText.line($0) }
            if let estimate = comparison.difference.estimate, let interval = comparison.difference.interval {
                lines.append("• difference: \(points(estimate)) points (95 % interval \(points(interval.lower)) to \(points(interval.upper)))")
            }
            if let probability = comparison.probabilityBBetter.probability {
                lines.append("• chance that `\(b)` is approved more often: \(ApprovalText.percent(probability))")
            }
            lines.append(comparison.summary)
            lines += comparison.warnings.map { "_\($0)_" }
            if versionsWithTraffic.count > 2 {
                let others = versionsWithTraffic.dropFirst(2).map { "`\($0)`" }.joined(separator: ", ")
                lines.append("Also with traffic: \(others). Compare any two with `drover compare A B`.")
            }
        } else if statistics.modelVersions.isEmpty {
            lines.append("No images yet.")
        } else {
            lines.append("*Approval per model version:*")
            lines += statistics.modelVersions.map { "• " + ApprovalText.line($0) }
        }
        if let publicURL {
            lines.append("<\(publicURL)/|Open the dashboard> for the charts, the images and the raters.")
        }
        return lines.joined(separator: "\n")
    }

    private func count(_ number: Int, _ noun: String) -> String {
        number == 1 ? "1 \(noun)" : "\(number) \(noun)s"
    }

    /// A difference of shares in signed percentage points: 0.081 → "+8.1".
    private func points(_ difference: Double) -> String {
        String(format: "%+.1f", difference * 100)
    }
}
