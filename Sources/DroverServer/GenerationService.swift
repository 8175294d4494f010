import DroverCore
import DroverGenerators
import DroverStore
import Foundation
import Synchronization

/// Makes images for a request and records them: generator → ledger → committer.
///
/// Generation is bounded: a request waits at most `timeout` for a turn and its images together,
/// and the ``GenerationLimiter`` refuses requests past its concurrency and queue limits.
public struct GenerationService: Sendable {
    /// A finished generation: its id and its images' ids, in order.
    public struct Result: Sendable {
        public var generationID: String
        public var imageIDs: [ImageID]
    }

    /// What `/healthz` says about the generator.
    public struct State: Sendable {
        public var backend: String
        public var model: String
        public var inFlight: Int
        public var queued: Int
        /// Why the last generation failed, until one succeeds.
        public var lastError: String?
        /// Whether the last generation, if any, succeeded. A busy refusal is not a failure.
        public var ok: Bool { lastError == nil }
    }

    let generator: any ImageGenerator
    let ledger: Ledger
    let committerDoorbell: Doorbell
    let modelVersion: String
    let timeout: Duration
    let limiter: GenerationLimiter
    let metrics: DroverMetrics
    let lastFailure = LastFailure()

    /// The generator's backend, model, load and last failure.
    public var state: State {
        let load = limiter.load
        return State(
            backend: generator.backend, model: generator.model, inFlight: load.inFlight, queued: load.queued,
            lastError: lastFailure.message
        )
    }

    /// Generates, stores and queues for commit.
    /// - Parameters:
    ///   - requestedBy: the requester's pseudonym, or `web`.
    ///   - postedTo: where the images will be shown (`web`, `slack:<team>/<channel>`), for provenance.
    /// - Throws: ``GenerationError`` when the generator is busy, fails or takes longer than the
    ///   timeout; the ledger's error when the images cannot be recorded.
    public func generate(_ request: GenerationRequest, requestedBy: String, postedTo: String) async throws -> Result {
        let images = try await makeImages(request)
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
                png: Data(image.png), postedTo: postedTo, createdAt: now
            )
        }
        let ids = try ledger.record(generation, images: records)
        committerDoorbell.ring()
        return Result(generationID: generation.id, imageIDs: ids)
    }

    /// Asks the generator in turn, within the timeout, and remembers how it went.
    private func makeImages(_ request: GenerationRequest) async throws(GenerationError) -> [GeneratedImage] {
        let started = ContinuousClock.now
        do {
            let images = try await withTimeout(timeout) { [limiter, generator] in
                try await limiter.run { try await generator.generate(request) }
            }
            guard images.count == request.count else {
                throw GeneratorError("the generator returned \(images.count) images for \(request.count) asked")
            }
            lastFailure.message = nil
            metrics.generation(backend: generator.backend, succeeded: true, duration: .now - started)
            return images
        } catch {
            let failure = error as? GenerationError ?? .generatorFailed("\(error)")
            if case .busy = failure { throw failure }  // a refusal, not a failure of the generator
            lastFailure.message = failure.description
            metrics.generation(backend: generator.backend, succeeded: false, duration: .now - started)
            throw failure
        }
    }
}

/// The message of the last failed generation; a success clears it.
final class LastFailure: Sendable {
    private let storage = Mutex<String?>(nil)

    var message: String? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// Runs `operation`, giving up with ``GenerationError/timedOut(after:)`` after `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw GenerationError.timedOut(after: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
