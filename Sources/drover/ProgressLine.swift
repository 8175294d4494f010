import Foundation
import Synchronization

/// One line of progress on standard error, rewritten in place: `[#####.........] <what>`.
final class ProgressLine: Sendable {
    private let shown = Mutex(false)

    /// Shows `done` of `total`, then `text`.
    func show(_ done: Int, of total: Int, _ text: String) {
        let width = 30
        let filled = width * min(max(done, 0), total) / max(total, 1)
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + text + "\u{1B}[K"
        shown.withLock { $0 = true }
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Ends the line, if one was shown.
    func finish() {
        if shown.withLock({ $0 }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
