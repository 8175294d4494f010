import DroverCore
@testable import DroverStore
import DroverTestSupport
import Foundation
import GRDB
import Testing

@Suite struct DatabaseDateTextTests {
    @Test func spellsDatesExactlyAsGRDBStoresThem() throws {
        var random = SplitMix(seed: 0x5EED_DA7E)
        // Whole milliseconds, sub-millisecond fractions, leap days; before 1970 and after 9999
        // (left to GRDB).
        let edges: [TimeInterval] = [
            0, -0.0005, 951_782_400, 951_868_799.9999, 4_102_444_800, -2_208_988_800, 1_764_400_000.123456, 253_402_300_798.9996,
            253_402_300_799.9996, 300_000_000_000,
        ]
        let randoms = (0..<20_000).map { _ in TimeInterval(Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &random)) / 1000 + Double.random(in: 0..<0.001, using: &random) }
        for seconds in edges + randoms {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(date.databaseText == String.fromDatabaseValue(date.databaseValue), "at \(seconds)")
        }
    }

    @Test func readsBackAsTheSameMillisecond() throws {
        let date = Date(timeIntervalSince1970: 1_764_400_000.987)
        let read = try #require(Date.fromDatabaseValue(date.databaseText.databaseValue))
        #expect(abs(read.timeIntervalSince(date)) < 0.001)
    }
}
