import DroverCore
import DroverDataset
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Testing

/// Settings for a server in `directory`: a random port, a fixed rater salt.
func testConfiguration(_ directory: TemporaryDirectory, _ extra: [String: String] = [:]) throws -> DroverConfiguration {
    try DroverConfiguration(environment: [
        "DROVER_DATA_DIR": directory.path, "DROVER_PORT": "0", "DROVER_RATER_SALT": "pepper",
    ].merging(extra) { $1 })
}

extension TestResponse {
    /// The body parsed as a JSON object.
    func json() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])
    }
}

extension TestClientProtocol {
    /// POSTs `json` and returns the response.
    func post(_ uri: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }
}

/// The dataset's git repository in `directory`.
func datasetGit(_ directory: TemporaryDirectory) -> Git {
    Git(directory: directory.path + "/dataset")
}

/// The rows committed at HEAD, without the headers (``Git/committedTrainRows(at:)``).
func committedTrainRows(_ directory: TemporaryDirectory) async throws -> [String] {
    try await datasetGit(directory).committedTrainRows()
}

/// How many commits the dataset has.
func commitCount(_ directory: TemporaryDirectory) async throws -> Int {
    Int(try await datasetGit(directory).run(["rev-list", "--count", "HEAD"]).trimmingWhitespace()) ?? 0
}

/// Fields form-encoded as Slack sends them.
func formEncoded(_ fields: [(String, String)]) throws -> String {
    try URLEncodedFormEncoder().encode(Dictionary(uniqueKeysWithValues: fields))
}
