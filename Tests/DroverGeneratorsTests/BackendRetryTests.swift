import DroverCore
import DroverGenerators
import DroverTestSupport
import Foundation
import Hummingbird
import Testing

/// A try that failed transiently (a 5xx other than 501, a connection closed mid-answer) is tried
/// again with the same request, within the deadline; a 4xx or 501 never is.
@Suite struct BackendRetryTests {
    /// How a fake backend answers one try.
    enum Answer: Sendable {
        case image
        case error(HTTPResponse.Status)
        /// A 200 whose body stops half-way: the connection is closed under it.
        case cutOffMidAnswer
    }

    struct CutOff: Error {}

    /// A fake OpenAI-Images backend answering try *n* with `answers[n]`, and the last one after
    /// that; it records every request in `received`.
    static func backend(_ answers: [Answer], _ received: ReceivedRequests) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/images/generations") { request, _ in
            let index = try await received.record(request)
            switch answers[min(index, answers.count - 1)] {
            case .image:
                return jsonResponse(.ok, ["model": "fake", "data": [["b64_json": Data(pngs[0]).base64EncodedString(), "seed": 5]]])
            case .error(let status):
                return jsonResponse(status, [
                    "error": ["message": "try \(index + 1) failed", "type": "server_error", "param": NSNull(), "code": NSNull()],
                ])
            case .cutOffMidAnswer:
                let head = ByteBuffer(string: #"{"model": "fake", "data": [{"b64_json": ""#)
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: ResponseBody(contentLength: 100_000) { writer in
                        try await writer.write(head)
                        throw CutOff()  // the server closes the connection after half an answer
                    }
                )
            }
        }
        return router
    }

    static func generate(
        _ answers: [Answer], timeout: Duration = .seconds(30), _ received: ReceivedRequests
    ) async throws -> [GeneratedImage] {
        try await withHTTPServer(backend(answers, received)) { url in
            try await OpenAIImagesGenerator(url: url, model: "sd-tiny", apiKey: nil, timeout: timeout)
                .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
        }
    }

    @Test func a500ThenA200IsOneImageAndBothTriesAskedForTheSameSeed() async throws {
        let received = ReceivedRequests()
        let images = try await Self.generate([.error(.internalServerError), .image], received)
        #expect(images.count == 1 && images.first?.png == pngs[0])
        #expect(received.all.count == 2)
        let bodies = try received.all.map { try $0.json() }
        let seed = try #require(bodies.first?["seed"] as? Int, "a seed is chosen before the first try")
        #expect(bodies.last?["seed"] as? Int == seed)
        #expect(received.all.first?.body == received.all.last?.body, "a retry sends the same request")
    }

    @Test func aConnectionClosedMidAnswerThenA200IsOneImage() async throws {
        let received = ReceivedRequests()
        let images = try await Self.generate([.cutOffMidAnswer, .image], received)
        #expect(images.count == 1 && images.first?.png == pngs[0])
        #expect(received.all.count == 2)
    }

    @Test func severalTransientFailuresInARowAreRetried() async throws {
        let received = ReceivedRequests()
        let images = try await Self.generate(
            [.error(.serviceUnavailable), .cutOffMidAnswer, .error(.badGateway), .image], received
        )
        #expect(images.count == 1)
        #expect(received.all.count == 4)
    }

    @Test(arguments: [HTTPResponse.Status.badRequest, .notFound, .tooManyRequests, .notImplemented])
    func aClientErrorOr501IsNotRetried(_ status: HTTPResponse.Status) async throws {
        let received = ReceivedRequests()
        let error = await #expect(throws: GeneratorError.self) {
            try await Self.generate([.error(status), .image], received)
        }
        #expect(error?.description == "the backend answered \(status.code) \(status.reasonPhrase): try 1 failed")
        #expect(received.all.count == 1)
    }

    @Test func retriesStopAtTheDeadlineWithTheLastFailure() async throws {
        let received = ReceivedRequests()
        let timeout = Duration.seconds(1)
        var elapsed = Duration.zero
        let error = await #expect(throws: GeneratorError.self) {
            try await withHTTPServer(Self.backend([.error(.internalServerError)], received)) { url in
                let generator = OpenAIImagesGenerator(url: url, model: "sd-tiny", apiKey: nil, timeout: timeout)
                let started = ContinuousClock.now
                defer { elapsed = ContinuousClock.now - started }
                return try await generator.generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
            }
        }
        // Five tries need at least 1.5 s of pauses: within 1 s the deadline, not the count, stops
        // them (after two to four tries here; one when the machine is so busy that a try is slow).
        #expect((1...4).contains(received.all.count), "\(received.all.count) tries")
        // The last failure the backend answered: the last try's, or the one before it when the
        // deadline cut the last try short (a busy machine). Only when the machine is so busy that
        // the first try itself outlasts the deadline is the deadline all there is to say.
        let tries = received.all.count
        let answered = [tries, tries - 1].filter { $0 >= 1 }.map { "the backend answered 500 Internal Server Error: try \($0) failed" }
        let cutShort = "the request to the backend's /v1/images/generations failed: HTTPClientError.deadlineExceeded"
        let description = error.map { "\($0)" } ?? ""
        #expect(answered.contains(description) || (tries == 1 && description == cutShort), "\(description)")
        // No pause runs past the deadline (timed around the generation alone; a busy machine adds a little).
        #expect(elapsed < timeout + .seconds(1), "\(elapsed)")
    }

    /// GenerationService's timeout, which answers the requester, cancels the generation: that
    /// ends the retries too, long before the backend's own deadline.
    @Test func cancellingTheGenerationStopsTheRetries() async throws {
        let received = ReceivedRequests()
        try await withHTTPServer(Self.backend([.error(.internalServerError)], received)) { url in
            let generation = Task {
                try await OpenAIImagesGenerator(url: url, model: nil, apiKey: nil, timeout: .seconds(30))
                    .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
            }
            try await eventually("the first try") { !received.all.isEmpty }
            // Timed from the cancel alone: the pauses after the first try add up to 1.5 s or more.
            let cancelled = ContinuousClock.now
            generation.cancel()
            let result = await generation.result
            #expect(throws: (any Error).self) { try result.get() }
            let tries = received.all.count
            #expect(tries < 5, "\(tries) tries")
            #expect(ContinuousClock.now - cancelled < .seconds(1), "the remaining pauses would take 1.5 s or more")
        }
    }

    @Test func aFailureThatStaysIsReportedAfterAFewTries() async throws {
        let received = ReceivedRequests()
        let started = ContinuousClock.now
        let error = await #expect(throws: GeneratorError.self) {
            try await Self.generate([.error(.badGateway)], received)
        }
        #expect(received.all.count == 5)
        #expect(error?.description == "the backend answered 502 Bad Gateway: try 5 failed")
        // The pauses add up to 3 s at most; a busy machine adds start-up and slow tries, never 30 s.
        #expect(ContinuousClock.now - started < .seconds(20), "reported long before the 30 s deadline")
    }

    @Test func automatic1111RetriesAndResendsTheSameSeed() async throws {
        let received = ReceivedRequests()
        let router = Router()
        router.post("/sdapi/v1/txt2img") { request, _ in
            let index = try await received.record(request)
            guard index > 0 else { return jsonResponse(.serviceUnavailable, ["detail": "the model is loading"]) }
            return jsonResponse(.ok, ["images": [Data(pngs[1]).base64EncodedString()], "info": #"{"seed": 9}"#])
        }
        let images = try await withHTTPServer(router) { url in
            try await Automatic1111Generator(url: url, model: nil, apiKey: nil, timeout: .seconds(30))
                .generate(try GenerationRequest(prompt: "an ox", width: 64, height: 64))
        }
        #expect(images.map(\.png) == [pngs[1]])
        #expect(received.all.count == 2)
        let seeds = try received.all.map { try $0.json()["seed"] as? Int }
        #expect(seeds[0] != nil && seeds[0] != -1 && seeds[0] == seeds[1])
    }
}
