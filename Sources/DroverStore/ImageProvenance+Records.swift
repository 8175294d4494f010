import DroverCore

extension ImageProvenance {
    /// An image's provenance from its ledger records: its line in `annotations/images.jsonl`.
    public init(image: ImageRecord, generation: GenerationRecord) {
        self.init(
            id: image.id, prompt: generation.prompt, negativePrompt: generation.negativePrompt, seed: image.seed,
            steps: generation.steps, guidanceScale: generation.guidanceScale, width: generation.width, height: generation.height,
            model: generation.model, modelVersion: generation.modelVersion, backend: generation.backend,
            generationID: generation.id, createdAt: Timestamp.iso8601(image.createdAt), postedTo: image.postedTo,
            requestID: generation.requestID, assignment: generation.assignment, assignmentDraw: image.assignmentDraw
        )
    }
}
