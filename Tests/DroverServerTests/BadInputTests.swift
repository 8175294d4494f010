import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import HummingbirdTesting
import Logging
import Testing

@Suite struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var method: HTTPRequest.Method
        var uri: String
        var body: String?
        var status: HTTPResponse.Status
        var testDescription: String { name }
    }

    static let unknownImage = "0123456789abcdef"

    static let cases: [Case] = [
        Case(name: "malformed JSON", method: .post, uri: "/api/generations", body: #"{"prompt": "#, status: .badRequest),
        Case(name: "empty prompt", method: .post, uri: "/api/generations", body: #"{"prompt": "   "}"#, status: .badRequest),
        Case(name: "missing prompt", method: .post, uri: "/api/generations", body: #"{"n": 1}"#, status: .badRequest),
        Case(name: "too many images", method: .post, uri: "/api/generations", body: #"{"prompt": "ox", "n": 99}"#, status: .badRequest),
        Case(name: "prompt of the wrong type", method: .post, uri: "/api/generations", body: #"{"prompt": 5}"#, status: .badRequest),
        Case(name: "oversized body", method: .post, uri: "/api/generations", body: #"{"prompt": "\#(String(repeating: "o", count: 70_000))"}"#, status: .contentTooLarge),
        Case(name: "vote on an unknown image", method: .post, uri: "/api/votes", body: #"{"image_id": "\#(unknownImage)", "rater": "a", "rating": "up"}"#, status: .notFound),
        Case(name: "vote with a path in the image id", method: .post, uri: "/api/votes", body: #"{"image_id": "../../etc/passwd", "rater": "a", "rating": "up"}"#, status: .badRequest),
        Case(name: "vote with an unknown rating", method: .post, uri: "/api/votes", body: #"{"image_id": "\#(unknownImage)", "rater": "a", "rating": "maybe"}"#, status: .badRequest),
        Case(name: "vote without a rater", method: .post, uri: "/api/votes", body: #"{"image_id": "\#(unknownImage)", "rater": " ", "rating": "up"}"#, status: .badRequest),
        Case(name: "image file with a path", method: .get, uri: "/images/..%2F..%2Fdrover.sqlite", body: nil, status: .badRequest),
        Case(name: "unknown image file", method: .get, uri: "/images/\(unknownImage).png", body: nil, status: .notFound),
        Case(name: "bad limit", method: .get, uri: "/api/images?limit=-3", body: nil, status: .badRequest),
        Case(name: "an unknown model version", method: .post, uri: "/api/generations", body: #"{"prompt": "ox", "model": "nope"}"#, status: .badRequest),
        Case(name: "a model version that is no name", method: .post, uri: "/api/generations", body: #"{"prompt": "ox", "model": "a,b"}"#, status: .badRequest),
        Case(name: "compare one version with itself", method: .get, uri: "/api/compare?a=x&b=x", body: nil, status: .badRequest),
        Case(name: "compare with a bad blinded", method: .get, uri: "/api/compare?a=x&b=y&blinded=maybe", body: nil, status: .badRequest),
    ]

    @Test(arguments: cases)
    func isRefusedWithAMessageAndWritesNothing(_ input: Case) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
        try await app.test(.live) { client in
            let response = try await client.execute(
                uri: input.uri, method: input.method, headers: [.contentType: "application/json"],
                body: input.body.map { ByteBuffer(string: $0) }
            )
            #expect(response.status == input.status)
            let error = try response.json()["error"] as? [String: Any]
            #expect((error?["message"] as? String)?.isEmpty == false, "a 4xx says why")

            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect((try health.json()["ledger"] as? [String: Any])?["inbox_depth"] as? Int == 0)
            let images = try await client.execute(uri: "/api/images", method: .get)
            #expect((try images.json()["images"] as? [Any])?.isEmpty == true)
        }
        #expect(try await commitCount(directory) == 1)
    }
}
