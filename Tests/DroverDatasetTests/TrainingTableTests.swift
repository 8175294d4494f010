import DroverCore
@testable import DroverDataset
@testable import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// `train.csv` is kept rendered and patched row by row; it must always read as if rebuilt.
@Suite struct TrainingTableTests {
    @Test func theDocumentFollowsEveryChangeRowByRow() throws {
        var table = TrainingTable()
        var expected: [(key: String, line: String)] = []  // rows in file order
        var generator = SplitMix(seed: 7)
        let images = (0..<40).map { ImageID(pngBytes: Data("image \($0)".utf8)) }
        for step in 0..<8_000 {
            let image = images[Int(generator.next() % 40)]
            let rater = "r\(generator.next() % 60)"
            let choice = generator.next() % 3
            let rating: Rating? = choice == 0 ? nil : (choice == 1 ? .approve : .disapprove)
            let event = VoteEventRecord(
                id: Int64(step), imageID: image, rater: rater, rating: rating, previousRating: nil, source: .web,
                occurredAt: Date(timeIntervalSince1970: Double(step)), commitSHA: nil
            )
            table.apply(VoteChange(event: event, prompt: "an ox, \"quoted\"\nand a new line", modelVersion: "0-\(step % 3)"))

            let key = "\(image)|\(rater)"
            let existing = expected.firstIndex { $0.key == key }
            if let rating {
                let line = CSV.line(TrainingRow(
                    prompt: "an ox, \"quoted\"\nand a new line", image: image, rating: rating, rater: rater, modelVersion: "0-\(step % 3)",
                    votedAt: Timestamp.iso8601(event.occurredAt), source: "web"
                ).fields)
                if let existing { expected[existing].line = line } else { expected.append((key, line)) }
            } else if let existing {
                expected.remove(at: existing)
            }
            // Rendered now and then: between renders several changes patch the document.
            if step % 7 == 0 || step == 7_999 {
                let document = String(decoding: table.csv(), as: UTF8.self)
                #expect(document == CSV.line(TrainingRow.columns) + expected.map(\.line).joined(), "step \(step)")
            }
        }
        #expect(table.count == expected.count)
    }
}
