import DroverCore
import DroverDataset
import DroverGenerators
import DroverGit
import DroverServer
import DroverTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// A fake OpenAI-compatible backend for one model: it paints `model` and the prompt with each
/// requested seed (so two models never make the same picture), and lists `model` at `/v1/models`.
/// With `failure` set it answers every generation 400 with that message.
func paintingBackend(model: String, failure: String? = nil) -> Router<BasicRequestContext> {
    struct Body: Decodable {
        var prompt: String
        var n: Int
        var seed: UInt32
    }
    let router = Router()
    router.post("/v1/images/generations") { request, context in
        let body = try await request.decode(as: Body.self, context: context)
        if let failure {
            let error = ["error": ["message": failure, "type": "invalid_request_error"]]
            return Response(
                status: .badRequest, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: error)))
            )
        }
        let data = (0..<body.n).map { index in
            let seed = body.seed &+ UInt32(index)
            let png = ProceduralGenerator.paint(prompt: "\(model) \(body.prompt)", seed: seed, width: 64, height: 64)
            return ["b64_json": Data(png).base64EncodedString(), "seed": Int(seed)] as [String: Any]
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["model": model, "data": data])))
        )
    }
    router.get("/v1/models") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"object": "list", "data": [{"id": "\#(model)", "object": "model"}]}"#))
        )
    }
    return router
}

/// A models file with versions `alpha` (model `paint-a`) and `beta` (model `paint-b`, 12 steps by
/// default), equal weights, in `directory`.
func writeTwoVersions(_ directory: TemporaryDirectory, alphaURL: String, betaURL: String) throws {
    let file = """
        [[version]]
        name = "alpha"
        backend = "openai"
        url = "\(alphaURL)"
        model = "paint-a"
        weight = 1

        [[version]]
        name = "beta"
        backend = "openai"
        url = "\(betaURL)"
        model = "paint-b"
        weight = 1.0
        defaults = { steps = 12 }
        """
    try file.write(toFile: directory.path + "/models.toml", atomically: true, encoding: .utf8)
}

/// Runs the two painting backends of ``writeTwoVersions(_:alphaURL:betaURL:)`` (beta failing with
/// `betaFailure`, if given), writes the models file, and runs `body` with their URLs.
func withTwoVersions<T: Sendable>(
    in directory: TemporaryDirectory, betaFailure: String? = nil, _ body: @Sendable () async throws -> T
) async throws -> T {
    try await withHTTPServer(paintingBackend(model: "paint-a")) { alphaURL in
        try await withHTTPServer(paintingBackend(model: "paint-b", failure: betaFailure)) { betaURL in
            try writeTwoVersions(directory, alphaURL: alphaURL, betaURL: betaURL)
            return try await body()
        }
    }
}

/// One provenance line at HEAD, by image id.
func committedProvenance(_ directory: TemporaryDirectory) async throws -> [String: [String: Any]] {
    let lines = try await datasetGit(directory).committedProvenance()
    var byID: [String: [String: Any]] = [:]
    for line in lines {
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        byID[try #require(object["id"] as? String)] = object
    }
    return byID
}

/// Two model versions side by side: each image of a request is assigned one blindly by weight,
/// nothing shown to raters names it, provenance and exports record it, and the comparison counts
/// the blinded images.
@Suite(.timeLimit(.minutes(3))) struct ModelVersionsTests {
    @Test func blindedVersionsThroughTheWebAPIAndTheirComparison() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await withTwoVersions(in: directory) {
            // The client's one connection idles while the test polls git for the commits; under
            // the whole suite's load that has outlasted the server's 30 s idle timeout, which then
            // closed it (as it should) — and this client does not reconnect.
            let configuration = try testConfiguration(directory, ["DROVER_HTTP_IDLE_TIMEOUT_S": "300"])
            let app = try await buildApplication(configuration, logger: testLogger)
            try await app.test(.live) { client in
                try await Self.exercise(client, directory)
            }
        }
    }

    private static func exercise(_ client: some TestClientProtocol, _ directory: TemporaryDirectory) async throws {
        // Six blinded requests of eight images, one pinned to beta, one naming no version there is.
        var requests: [(id: String, images: [String])] = []
        for index in 0..<6 {
            let made = try await client.post("/api/generations", json: #"{"prompt": "ox \#(index)", "n": 8, "width": 64, "height": 64}"#)
            #expect(made.status == .created)
            let json = try made.json()
            #expect((json["failures"] as? [Any])?.isEmpty == true)
            let images = try #require(json["images"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            requests.append((try #require(json["request_id"] as? String), images))
        }
        let pinned = try await client.post("/api/generations", json: #"{"prompt": "a chosen ox", "n": 2, "model": "beta", "width": 64, "height": 64}"#)
        #expect(pinned.status == .created)
        let pinnedImages = try #require(try pinned.json()["images"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        let unknown = try await client.post("/api/generations", json: #"{"prompt": "an ox", "model": "gamma"}"#)
        #expect(unknown.status == .badRequest)
        #expect(String(buffer: unknown.body).contains(#"there is no model version \"gamma\" (there are: alpha, beta)"#))

        // What raters see names no version and no model.
        let listing = String(buffer: try await client.execute(uri: "/api/images?limit=100", method: .get).body)
        for secret in ["alpha", "beta", "paint-a", "paint-b", "model_version", "generation_id"] {
            #expect(!listing.contains(secret), "the image list shows \(secret)")
        }

        // Provenance: the version, how it was assigned and the draw; a request's images share its
        // id and have seeds seed … seed + 7 in the order shown, whatever their versions.
        try await eventually("every image committed") { try await committedProvenance(directory).count == 50 }
        let provenance = try await committedProvenance(directory)
        var random: [String: Int] = [:]
        for request in requests {
            let lines = try request.images.map { try #require(provenance[$0]) }
            #expect(lines.allSatisfy { $0["request_id"] as? String == request.id && $0["assignment"] as? String == "random" })
            #expect(lines.allSatisfy { ($0["assignment_draw"] as? Double).map { (0..<1).contains($0) } == true })
            let seeds = lines.compactMap { $0["seed"] as? Int }
            #expect(seeds.count == 8 && seeds == Array(seeds[0]..<seeds[0] + 8), "seeds in the order shown: \(seeds)")
            for line in lines {
                let version = try #require(line["model_version"] as? String)
                random[version, default: 0] += 1
                #expect(line["model"] as? String == (version == "alpha" ? "paint-a" : "paint-b"))
                #expect((line["steps"] as? Int) == (version == "beta" ? 12 : nil), "beta's default steps")
            }
            // A request that mixes versions has one generation per version.
            #expect(Set(lines.compactMap { $0["generation_id"] as? String }).count == Set(lines.compactMap { $0["model_version"] as? String }).count)
        }
        let alphaCount = random["alpha", default: 0]
        let betaCount = random["beta", default: 0]
        #expect(alphaCount + betaCount == 48)
        // Binomial(48, ½): outside 10 … 38 is more than five standard deviations out.
        #expect((10...38).contains(alphaCount), "alpha drew \(alphaCount) of 48")
        for id in pinnedImages {
            let line = try #require(provenance[id])
            #expect(line["model_version"] as? String == "beta" && line["assignment"] as? String == "chosen" && line["assignment_draw"] == nil)
        }

        // ann approves every beta image and disapproves every alpha one.
        for (id, line) in provenance {
            let rating = line["model_version"] as? String == "beta" ? "up" : "down"
            let vote = try await client.post("/api/votes", json: #"{"image_id": "\#(id)", "rater": "ann", "rating": "\#(rating)"}"#)
            #expect(vote.status == .accepted)
        }
        try await eventually("every vote committed", timeout: .seconds(60)) { try await committedTrainRows(directory).count == 50 }

        // The comparison counts blinded images only, unless asked.
        let compared = try await client.execute(uri: "/api/compare?a=alpha&b=beta", method: .get).json()
        let a = try #require(compared["a"] as? [String: Any])
        let b = try #require(compared["b"] as? [String: Any])
        #expect(compared["blinded_only"] as? Bool == true)
        #expect(a["votes"] as? Int == alphaCount && a["approvals"] as? Int == 0)
        #expect(b["votes"] as? Int == betaCount && b["approvals"] as? Int == betaCount)
        let difference = try #require(compared["difference"] as? [String: Any])
        #expect(difference["b_minus_a"] as? Double == 1)
        let headToHead = try #require(compared["head_to_head"] as? [String: Any])
        let pairs = try #require(headToHead["pairs"] as? Int)
        let mixed = requests.filter { request in Set(request.images.compactMap { provenance[$0]?["model_version"] as? String }).count == 2 }
        #expect(pairs >= mixed.count && (mixed.isEmpty || pairs > 0), "one pair or more per mixed request")
        #expect(headToHead["b_wins"] as? Int == pairs && headToHead["a_wins"] as? Int == 0)
        let everything = try await client.execute(uri: "/api/compare?a=alpha&b=beta&blinded=false", method: .get).json()
        #expect((everything["b"] as? [String: Any])?["votes"] as? Int == betaCount + 2, "pinned images count when asked")

        // The split is in /metrics as it happens.
        let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
        let generated = metrics.split(separator: "\n").filter { $0.hasPrefix("drover_images_generated_total{") }
        #expect(generated.contains { $0.contains(#"model_version="alpha""#) && $0.contains(#"assignment="random""#) && $0.hasSuffix(" \(alphaCount)") })
        #expect(generated.contains { $0.contains(#"model_version="beta""#) && $0.contains(#"assignment="chosen""#) && $0.hasSuffix(" 2") })

        // Exports carry each row's version; a pairs export of the two is what Diffusion-DPO reads.
        let history = DatasetHistory(directory: directory.path + "/dataset")
        let pairsDirectory = try TemporaryDirectory()
        defer { pairsDirectory.remove() }
        let written = try await history.export(.pairs, versions: ["alpha", "beta"], to: pairsDirectory.path)
        let pairsCSV = try String(contentsOfFile: pairsDirectory.path + "/" + ExportFormat.pairs.fileName, encoding: .utf8)
        let rows = pairsCSV.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(rows.first)
        let model0 = try #require(header.firstIndex(of: "model_0"))
        let model1 = try #require(header.firstIndex(of: "model_1"))
        #expect(written.records == rows.count - 1 && written.records > 0)
        #expect(rows.dropFirst().allSatisfy { Set([$0[model0], $0[model1]]).isSubset(of: ["alpha", "beta"]) })
        #expect(rows.dropFirst().contains { $0[model0] != $0[model1] }, "pairs across the versions")
    }

    /// A redelivered request (the same key) draws the same versions and records nothing twice.
    @Test func theSameRequestKeyDrawsTheSameVersions() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await withTwoVersions(in: directory) {
            let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
            try await app.test(.live) { client in
            let body = #"{"prompt": "the same ox", "n": 8, "seed": 40, "width": 64, "height": 64}"#
            let first = try await client.post("/api/generations", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "retry-1"])
            let again = try await client.post("/api/generations", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "retry-1"])
            let other = try await client.post("/api/generations", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "another"])
            #expect(try first.json()["request_id"] as? String == (try again.json()["request_id"] as? String))
            #expect(try Self.ids(first) == (try Self.ids(again)), "the same images, in the same order")
            #expect(try first.json()["request_id"] as? String != (try other.json()["request_id"] as? String))
            #expect(try ledgerCount("SELECT COUNT(*) FROM image", directory) == 16 - Self.shared(first, other))
            #expect(try ledgerCount("SELECT COUNT(DISTINCT requestID) FROM generation", directory) == 2)
            }
        }
    }

    /// A generation's image ids, in the order shown.
    private static func ids(_ response: TestResponse) throws -> [String] {
        try #require(try response.json()["images"] as? [[String: Any]]).compactMap { $0["id"] as? String }
    }

    /// Images two requests share: the same seed and version make the same picture, which is stored once.
    private static func shared(_ first: TestResponse, _ second: TestResponse) throws -> Int {
        Set(try ids(first)).intersection(try ids(second)).count
    }

    /// A version whose backend fails falls back to no other: the others' images are kept and the
    /// requester is told what failed; a request pinned to it fails whole.
    @Test func aFailingVersionIsReportedAndNotReplaced() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await withTwoVersions(in: directory, betaFailure: "paint-b is not loaded") {
            let app = try await buildApplication(try testConfiguration(directory), logger: testLogger)
            try await app.test(.live) { client in
            // Each request draws anew; one of a few draws beta for some of its images.
            var partial: (images: Int, failures: [String])?
            for attempt in 0..<5 where partial == nil {
                let made = try await client.post("/api/generations", json: #"{"prompt": "ox \#(attempt)", "n": 8, "width": 64, "height": 64}"#)
                #expect(made.status == .created)
                let json = try made.json()
                let images = try #require(json["images"] as? [Any]).count
                if images < 8 { partial = (images, try #require(json["failures"] as? [String])) }
            }
            let (images, failures) = try #require(partial)
            #expect(images > 0, "alpha's images are kept")
            #expect(failures == ["\(8 - images) of 8 images could not be made: the image generator failed: the backend answered 400 Bad Request: paint-b is not loaded"])
            let pinned = try await client.post("/api/generations", json: #"{"prompt": "ox", "model": "beta", "width": 64, "height": 64}"#)
            #expect(pinned.status == .badGateway)
            #expect(String(buffer: pinned.body).contains("paint-b is not loaded"))
            #expect(try ledgerCount("SELECT COUNT(*) FROM generation WHERE modelVersion = 'beta'", directory) == 0)
            }
        }
    }
}

/// Through Slack: `/ox` mixes versions without naming them anywhere in what it posts, `--model`
/// pins one, and a version there is not is told to the requester.
@Suite(.timeLimit(.minutes(2))) struct ModelVersionsSlackTests {
    @Test func oxPostsBlindedImagesAndModelPinsAVersion() async throws {
        try await FakeSlack.run { fake in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try await withTwoVersions(in: directory) {
                try await slackApp(directory, fake).test(.live) { client in
                    #expect(try await client.slashCommand("--n 8 a blinded ox", fake: fake).status == .ok)
                    try await eventually("eight image messages") { fake.posted.count == 8 }
                    #expect(try await client.slashCommand("--model beta --n 2 a chosen ox", fake: fake).status == .ok)
                    try await eventually("two more") { fake.posted.count == 10 }
                    #expect(try await client.slashCommand("--model gamma an ox", fake: fake).status == .ok)
                    try await eventually("the requester told") { fake.responses.contains { $0.contains(#"there is no model version \"gamma\""#) } }

                    // Nothing posted — uploads, titles, alt text, messages, blocks — names a version or model.
                    let posted = fake.state.withLock { $0.calls }.filter { $0.method != "auth.test" }
                    for call in posted {
                        let fields = call.fields.values.joined(separator: "\u{1f}")
                        for secret in ["alpha", "beta", "paint-a", "paint-b"] {
                            #expect(!fields.contains(secret), "\(call.method) shows \(secret)")
                        }
                    }

                    try await eventually("the images committed") { try await committedProvenance(directory).count == 10 }
                    let provenance = try await committedProvenance(directory).values
                    let blinded = provenance.filter { $0["assignment"] as? String == "random" }
                    let chosen = provenance.filter { $0["assignment"] as? String == "chosen" }
                    #expect(blinded.count == 8 && chosen.count == 2)
                    #expect(chosen.allSatisfy { $0["model_version"] as? String == "beta" && $0["posted_to"] as? String == "slack:T0TEAM/C0CHANNEL" })
                    #expect(Set(blinded.compactMap { $0["request_id"] as? String }).count == 1)
                }
            }
        }
    }
}

/// `drover models`: each version's share, backend and health; exit 1 when one with traffic is down.
@Suite struct ModelsCommandTests {
    @Test func listsTheVersionsWithTheirHealth() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let down = "http://127.0.0.1:\(try freePort())"
        try await withHTTPServer(paintingBackend(model: "paint-a")) { url in
            func write(downWeight: Int) throws {
                try """
                    [[version]]
                    name = "painter"
                    backend = "procedural"
                    weight = 3
                    defaults = { steps = 20, width = 256, height = 256 }

                    [[version]]
                    name = "served"
                    backend = "openai"
                    url = "\(url)"
                    model = "paint-a"
                    weight = 1

                    [[version]]
                    name = "gone"
                    backend = "openai"
                    url = "\(down)"
                    weight = \(downWeight)
                    """.write(toFile: directory.path + "/models.toml", atomically: true, encoding: .utf8)
            }
            try write(downWeight: 0)
            let output = try await drover(["models"], dataDirectory: directory.path)
            #expect(output.contains("| painter | 75 % | procedural | drover-procedural-1 | steps 20, 256×256 | ok |"), "\(output)")
            #expect(output.contains("| served | 25 % | openai | paint-a | — | ok |"), "\(output)")
            #expect(output.contains("| gone | 0 (history only) | openai | default | — | down: "), "\(output)")

            try write(downWeight: 1)
            await #expect(throws: CommandError.self, "a version with traffic is down") {
                try await drover(["models"], dataDirectory: directory.path)
            }
        }
    }
}
