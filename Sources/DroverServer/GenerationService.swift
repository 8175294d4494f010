import Crypto
import DroverCore
import DroverGenerators
import DroverStore
import Foundation
import Synchronization

/// Makes images for a request and records them: model versions → generators → ledger → committer.
///
/// Each image's version is drawn blindly by weight (``BlindAssignment``) unless the request pins
/// one; the images keep the drawn (random) order, and each run of images in a row of one version
/// is asked of that version's backend at once, all runs concurrently. A version whose backend
/// fails falls back to no other: the images the others made are kept, and the result says what
/// failed.
///
/// Generation is bounded: a request waits at most `timeout` for a turn and its images together,
/// and the ``GenerationLimiter`` refuses requests past its concurrency and queue limits.
public struct GenerationService: Sendable {
    /// A finished generation: the request's id and its images' ids, in the order they are shown.
    public struct Result: Sendable {
        public var requestID: String
        public var imageIDs: [ImageID]
        /// What could not be made, for the requester (`2 of 4 images could not be made: …`);
        /// empty when every image was.
        public var failures: [String]
    }

    /// What `/healthz` says about the generators.
    public struct State: Sendable {
        /// Each version's backend, model, weight and last failure.
        public var versions: [VersionState]
        public var inFlight: Int
        public var queued: Int
        /// Whether the last generation of every version, if any, succeeded. A busy refusal is not a failure.
        public var ok: Bool { versions.allSatisfy { $0.lastError == nil } }
    }

    /// One version as `/healthz` reports it.
    public struct VersionState: Sendable {
        public var name: String
        public var backend: String
        public var model: String
        public var weight: Double
        /// Why its last generation failed, until one succeeds.
        public var lastError: String?
    }

    /// A model version and the generator that makes its images.
    struct Version: Sendable {
        var settings: ModelVersion
        var generator: any ImageGenerator
        let lastFailure = LastFailure()
    }

    let versions: [Version]
    /// Keys the blind draws (the data directory's secret), so no one can predict them.
    let assignmentSecret: [UInt8]
    let ledger: Ledger
    let committerDoorbell: Doorbell
    let timeout: Duration
    let limiter: GenerationLimiter
    let metrics: DroverMetrics

    /// The names of the versions, in the models file's order.
    public var versionNames: [String] { versions.map(\.settings.name) }

    /// The generators' backends, models, load and last failures.
    public var state: State {
        let load = limiter.load
        return State(
            versions: versions.map {
                VersionState(
                    name: $0.settings.name, backend: $0.generator.backend, model: $0.generator.model, weight: $0.settings.weight,
                    lastError: $0.lastFailure.message
                )
            },
            inFlight: load.inFlight, queued: load.queued
        )
    }

    /// Generates, stores and queues for commit.
    /// - Parameters:
    ///   - requestKey: what identifies the request across redeliveries (the inbox item's key): the
    ///     same key draws the same versions and makes the same generation records.
    ///   - requestedBy: the requester's pseudonym, or `web`.
    ///   - postedTo: where the images will be shown (`web`, `slack:<team>/<channel>`), for provenance.
    /// - Throws: ``GenerationError`` when the request pins a version there is not, or when no
    ///   image could be made (busy, failed, timed out); the ledger's error when the images cannot
    ///   be recorded.
    public func generate(_ request: GenerationRequest, requestKey: String, requestedBy: String, postedTo: String) async throws -> Result {
        let requestID = Self.digest("request", requestKey, request.prompt)
        let (slots, assignment) = try assign(request, requestKey: requestKey)
        // Image i of the request has seed + i whatever its version, so a seed tells nothing of the
        // version; each run of images in a row of one version is asked of its backend at once.
        let firstSeed = request.seed ?? .random(in: 0...(UInt32.max - UInt32(GenerationRequest.maxImages)))
        var runs: [(version: Version, slots: Range<Int>, request: GenerationRequest)] = []
        var start = 0
        while start < slots.count {
            let name = slots[start].modelVersion
            let end = slots[start...].firstIndex { $0.modelVersion != name } ?? slots.count
            let version = versions.first { $0.settings.name == name }!
            var run = request.resolved(with: version.settings.defaults)
            run.count = end - start
            run.seed = firstSeed &+ UInt32(start)
            runs.append((version, start..<end, run))
            start = end
        }
        let outcomes = await withTaskGroup(of: (Int, Swift.Result<[GeneratedImage], GenerationError>).self) { group in
            for (index, run) in runs.enumerated() {
                group.addTask { (index, await makeImages(run.request, by: run.version)) }
            }
            var outcomes: [Int: Swift.Result<[GeneratedImage], GenerationError>] = [:]
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }

        // One generation record per version, holding the images of all its runs; the runs are in
        // slot order, so the images are too.
        let now = Date()
        var generations: [String: GenerationRecord] = [:]
        var images: [ImageRecord] = []
        var failures: [GenerationError] = []
        for (index, run) in runs.enumerated() {
            let made: [GeneratedImage]
            switch outcomes[index]! {
            case .success(let images): made = images
            case .failure(let failure):
                failures.append(failure)
                continue
            }
            let name = run.version.settings.name
            let first = made.first
            let generation = generations[name] ?? GenerationRecord(
                id: Self.digest("generation", requestKey, request.prompt, name), prompt: run.request.prompt,
                negativePrompt: run.request.negativePrompt, steps: first?.steps ?? run.request.steps,
                guidanceScale: first?.guidanceScale ?? run.request.guidanceScale,
                width: first?.width ?? run.request.size.width, height: first?.height ?? run.request.size.height,
                model: first?.model ?? run.version.generator.model, modelVersion: name, backend: run.version.generator.backend,
                requestedBy: requestedBy, createdAt: now, requestID: requestID, assignment: assignment
            )
            generations[name] = generation
            for (slot, image) in zip(run.slots, made) {
                images.append(ImageRecord(
                    id: ImageID(pngBytes: image.png), generationID: generation.id, position: slot, seed: image.seed,
                    png: Data(image.png), postedTo: postedTo, createdAt: now, assignmentDraw: slots[slot].draw
                ))
            }
            metrics.images(modelVersion: name, assignment: assignment, count: made.count)
        }
        guard !images.isEmpty else { throw failures[0] }
        let ids = try ledger.record(Array(generations.values), images: images)
        committerDoorbell.ring()
        return Result(
            requestID: requestID, imageIDs: ids,
            failures: failures.isEmpty ? [] : ["\(slots.count - images.count) of \(slots.count) images could not be made: \(failures[0])"]
        )
    }

    /// Each image's version and draw, and how they were decided.
    private func assign(_ request: GenerationRequest, requestKey: String) throws(GenerationError) -> ([BlindAssignment.Slot], Assignment) {
        if let pinned = request.modelVersion {
            guard versions.contains(where: { $0.settings.name == pinned }) else {
                throw .unknownModelVersion(pinned, known: versionNames)
            }
            return (Array(repeating: BlindAssignment.Slot(modelVersion: pinned, draw: nil), count: request.count), .chosen)
        }
        let drawn = BlindAssignment(
            count: request.count, versions: versions.map { ($0.settings.name, $0.settings.weight) }, requestKey: requestKey,
            secret: assignmentSecret
        )
        return (drawn.slots, .random)
    }

    /// Asks `version`'s generator in turn, within the timeout, and remembers how it went.
    private func makeImages(_ request: GenerationRequest, by version: Version) async -> Swift.Result<[GeneratedImage], GenerationError> {
        let started = ContinuousClock.now
        let generator = version.generator
        do {
            let images = try await withTimeout(timeout) { [limiter] in
                try await limiter.run { try await generator.generate(request) }
            }
            guard images.count == request.count else {
                throw GeneratorError("the generator returned \(images.count) images for \(request.count) asked")
            }
            version.lastFailure.message = nil
            metrics.generation(backend: generator.backend, succeeded: true, duration: .now - started)
            return .success(images)
        } catch {
            let failure = error as? GenerationError ?? .generatorFailed("\(error)")
            if case .busy = failure { return .failure(failure) }  // a refusal, not a failure of the generator
            version.lastFailure.message = failure.description
            metrics.generation(backend: generator.backend, succeeded: false, duration: .now - started)
            return .failure(failure)
        }
    }

    /// A 32-hex-digit id that depends only on `parts`, so a redelivered request records the same ids.
    static func digest(_ parts: String...) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(parts.joined(separator: "\u{1f}").utf8)).prefix(16)))
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
