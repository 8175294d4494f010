import DroverCore
import DroverDataset
import DroverStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The JSON API used by the page and by scripts: generate, vote, list images and commits.
struct APIController {
    let ledger: Ledger
    let inbox: Inbox
    let inboxDoorbell: Doorbell
    let generation: GenerationService
    let pseudonymizer: RaterPseudonymizer
    let dataset: DatasetHistory

    func addRoutes(to router: Router<DroverRequestContext>) {
        router.post("/api/generations", use: createGeneration)
        router.get("/api/models", use: listModels)
        router.get("/api/images", use: listImages)
        router.post("/api/votes", use: vote)
        router.get("/api/commits", use: listCommits)
        router.get("/images/:file", use: imageFile)
    }

    // MARK: - Generations

    struct GenerationBody: Decodable {
        var prompt: String
        var n: Int?
        var seed: UInt32?
        var negativePrompt: String?
        var width: Int?
        var height: Int?
        var steps: Int?
        var guidanceScale: Double?
        /// A model version to pin; without it each image's version is drawn blindly.
        var model: String?

        enum CodingKeys: String, CodingKey {
            case prompt, n, seed, width, height, steps, model
            case negativePrompt = "negative_prompt"
            case guidanceScale = "guidance_scale"
        }
    }

    struct GenerationResponse: ResponseEncodable {
        struct Image: Encodable {
            var id: String
            var url: String
        }
        var requestID: String
        var images: [Image]
        /// What could not be made, when some images were.
        var failures: [String]

        enum CodingKeys: String, CodingKey {
            case images, failures
            case requestID = "request_id"
        }
    }

    @Sendable func createGeneration(request: Request, context: DroverRequestContext) async throws -> EditedResponse<GenerationResponse> {
        let body = try await request.decode(as: GenerationBody.self, context: context)
        let generationRequest: GenerationRequest
        do {
            generationRequest = try GenerationRequest(
                prompt: body.prompt, negativePrompt: body.negativePrompt, count: body.n ?? 1, seed: body.seed,
                steps: body.steps, guidanceScale: body.guidanceScale, width: body.width, height: body.height, modelVersion: body.model
            )
        } catch {
            throw HTTPError(.badRequest, message: error.description)
        }
        let result: GenerationService.Result
        do {
            let key = request.headers[.idempotencyKey].map { "web:\($0.prefix(200))" } ?? "web:\(UUID().uuidString)"
            result = try await generation.generate(generationRequest, requestKey: key, requestedBy: "web", postedTo: "web")
        } catch {
            // A GenerationError answers 503 (busy), 504 (timed out) or 502 (the backend failed) itself.
            context.logger.warning("generation failed", metadata: ["error": "\(error)"])
            throw error
        }
        let images = result.imageIDs.map { GenerationResponse.Image(id: $0.rawValue, url: "/images/\($0).png") }
        return EditedResponse(
            status: .created, response: GenerationResponse(requestID: result.requestID, images: images, failures: result.failures)
        )
    }

    struct ModelListing: ResponseEncodable {
        struct Version: Encodable {
            var name: String
            var weight: Double
        }
        /// In the models file's order.
        var versions: [Version]
    }

    /// The model versions a request may pin (`model`), with their traffic weights.
    @Sendable func listModels(request: Request, context: DroverRequestContext) async throws -> ModelListing {
        ModelListing(versions: generation.state.versions.map { .init(name: $0.name, weight: $0.weight) })
    }

    // MARK: - Images

    struct ImageListing: ResponseEncodable {
        struct Item: Encodable {
            var summary: ImageSummary
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(summary.id, forKey: .id)
                try container.encode("/images/\(summary.id).png", forKey: .url)
                try container.encode(summary.prompt, forKey: .prompt)
                try container.encode(summary.requestID, forKey: .requestID)
                try container.encode(Timestamp.iso8601(summary.createdAt), forKey: .createdAt)
                try container.encode(summary.approvals, forKey: .approvals)
                try container.encode(summary.disapprovals, forKey: .disapprovals)
            }
            enum CodingKeys: String, CodingKey {
                case id, url, prompt, approvals, disapprovals
                case requestID = "request_id"
                case createdAt = "created_at"
            }
        }
        var images: [Item]
    }

    @Sendable func listImages(request: Request, context: DroverRequestContext) async throws -> ImageListing {
        let limit = try request.uri.queryParameters.limit(default: 24)
        return ImageListing(images: try ledger.recentImages(limit: limit).map(ImageListing.Item.init))
    }

    @Sendable func imageFile(request: Request, context: DroverRequestContext) async throws -> Response {
        let file = try context.parameters.require("file")
        guard file.hasSuffix(".png"), let id = ImageID(validating: file.dropLast(4)) else {
            throw HTTPError(.badRequest, message: "an image file is named <16 lowercase hex digits>.png")
        }
        guard let png = try ledger.png(of: id) else { throw HTTPError(.notFound, message: "no image \(id)") }
        return Response(
            status: .ok,
            headers: [.contentType: "image/png", .cacheControl: "public, max-age=31536000, immutable"],
            body: .init(byteBuffer: ByteBuffer(bytes: png))
        )
    }

    // MARK: - Votes

    struct VoteBody: Decodable {
        var imageID: ImageID
        var rater: String
        var rating: VoteChoice

        enum CodingKeys: String, CodingKey {
            case rater, rating
            case imageID = "image_id"
        }
    }

    struct VoteAccepted: ResponseEncodable {
        var status: String
        var rater: String
    }

    /// Stores the vote in the inbox and answers 202; the inbox worker applies it.
    @Sendable func vote(request: Request, context: DroverRequestContext) async throws -> EditedResponse<VoteAccepted> {
        let body = try await request.decode(as: VoteBody.self, context: context)
        let raterName = body.rater.trimmingWhitespace()
        guard !raterName.isEmpty, raterName.utf8.count <= 100 else {
            throw HTTPError(.badRequest, message: "rater must be a name of 1 to 100 bytes")
        }
        guard try ledger.containsImage(body.imageID) else { throw HTTPError(.notFound, message: "no image \(body.imageID)") }
        let command = VoteCommand(
            imageID: body.imageID, rater: pseudonymizer.pseudonym(team: "web", user: raterName), choice: body.rating,
            source: .web, occurredAt: Date()
        )
        let key = request.headers[.idempotencyKey].map { "web:\($0.prefix(200))" } ?? "web:\(UUID().uuidString)"
        let acceptance = try await inbox.accept(idempotencyKey: key, kind: VoteItem.web.rawValue, payload: try JSONEncoder().encode(command))
        inboxDoorbell.ring()
        let status = acceptance == .accepted ? "accepted" : "duplicate"
        return EditedResponse(status: .accepted, response: VoteAccepted(status: status, rater: command.rater))
    }

    // MARK: - Commits

    struct CommitListing: ResponseEncodable {
        var commits: [DatasetCommit]
    }

    @Sendable func listCommits(request: Request, context: DroverRequestContext) async throws -> CommitListing {
        let limit = try request.uri.queryParameters.limit(default: 20)
        return CommitListing(commits: try await dataset.log(limit: limit))
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
}

extension Parameters {
    /// The `limit` query parameter, 1 … 500.
    func limit(default defaultValue: Int) throws -> Int {
        guard let text = self["limit"] else { return defaultValue }
        guard let limit = Int(text), (1...500).contains(limit) else {
            throw HTTPError(.badRequest, message: "limit must be a whole number from 1 to 500")
        }
        return limit
    }
}
