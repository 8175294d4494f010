import DroverCore
import DroverGenerators
import DroverStore
import Foundation

/// Makes images for a request and records them: generator → ledger → committer.
public struct GenerationService: Sendable {
    /// A finished generation: its id and its images' ids, in order.
    public struct Result: Sendable {
        public var generationID: String
        public var imageIDs: [ImageID]
    }

    let generator: any ImageGenerator
    let ledger: Ledger
    let committerDoorbell: Doorbell
    let modelVersion: String
    let timeout: Duration

    /// Generates, stores and queues for commit.
    /// - Parameter requestedBy: the requester's pseudonym, or `web`.
    /// - Throws: ``GeneratorError`` when the generator fails or takes longer than the timeout.
    public func generate(_ request: GenerationRequest, requestedBy: String) async throws -> Result {
        let images = try await withTimeout(timeout) { try await generator.generate(request) }
        guard images.count == request.count else {
            throw GeneratorError("the generator returned \(images.count) images for \(request.count) asked")
        }
        let now = Date()
        let generation = GenerationRecord(
            id: UUID().uuidString.lowercased(), prompt: request.prompt, negativePrompt: request.negativePrompt,
            steps: images.first?.steps ?? request.steps, guidanceScale: images.first?.guidanceScale ?? request.guidanceScale,
            width: images.first?.width ?? request.width, height: images.first?.height ?? request.height,
            model: images.first?.model ?? generator.model, modelVersion: modelVersion, backend: generator.backend,
            requestedBy: requestedBy, createdAt: now
        )
        let records = images.enumerated().map { position, image in
            ImageRecord(
                id: ImageID(pngBytes: image.png), generationID: generation.id, position: position, seed: image.seed,
                png: Data(image.png), postedTo: nil, createdAt: now
            )
        }
        let ids = try ledger.record(generation, images: records)
        committerDoorbell.ring()
        return Result(generationID: generation.id, imageIDs: ids)
    }
}

/// Runs `operation`, giving up with a ``GeneratorError`` after `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw GeneratorError("generation took longer than \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
