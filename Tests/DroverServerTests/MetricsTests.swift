import DroverServer
import DroverTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite struct MetricsTests {
    @Test func prometheusTextCountsRequestsVotesGenerationsAndCommits() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        try await app.test(.live) { client in
            let generation = try await client.post("/api/generations", json: #"{"prompt": "an ox", "seed": 2}"#)
            let imageID = try #require((try generation.json()["images"] as? [[String: String]])?.first?["id"])
            _ = try await client.post("/api/votes", json: #"{"image_id": "\#(imageID)", "rater": "eve", "rating": "up"}"#)
            _ = try await client.post("/api/votes", json: #"{"image_id": "nonsense"}"#)
            try await eventually("the vote's commit") { try await committedTrainRows(directory).count == 1 }

            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"drover_http_requests_total{route="/api/votes",status="202"} 1"#), "\(text)")
            #expect(lines.contains(#"drover_http_requests_total{route="/api/votes",status="400"} 1"#))
            #expect(lines.contains(#"drover_votes_total{source="web"} 1"#))
            #expect(lines.contains(#"drover_inbox_depth 0.0"#) || lines.contains(#"drover_inbox_depth 0"#))
            #expect(text.contains(#"drover_http_request_duration_seconds_bucket{route="/api/votes",le="0.005"}"#))
            #expect(text.contains(#"drover_generation_duration_seconds_count{backend="procedural",outcome="ok"} 1"#))
            #expect(lines.contains { $0.hasPrefix("drover_dataset_commits ") && $0 != "drover_dataset_commits 0.0" })
            // Every commit is timed, its lag and its size recorded.
            func value(_ name: String) -> Double? {
                lines.first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
            }
            let commits = try #require(value("drover_dataset_commits"))
            #expect(value("drover_commit_duration_seconds_count") == commits)
            #expect(value("drover_commit_lag_seconds_count") == commits)
            #expect(value("drover_commit_changes_count") == commits)
            #expect(value("drover_commit_changes_sum") == 2, "one image and one vote")
        }
    }
}
