import ArgumentParser
import DroverCore
import DroverGenerators
import DroverServer
import Foundation

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the model versions, their traffic shares and backends, and whether each backend answers.",
        discussion: """
            The versions come from the models file (DROVER_MODELS, else $DROVER_DATA_DIR/models.toml), \
            or from DROVER_GENERATOR* and DROVER_MODEL_VERSION without one. Each backend is asked once, \
            briefly (an OpenAI-compatible one: GET /v1/models, which must list the configured model). \
            Exits with status 1 when a version that gets traffic does not answer.
            """
    )

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let generator = try settings.load().generator
        print("versions from \(generator.modelsFile ?? "the environment (DROVER_GENERATOR*, DROVER_MODEL_VERSION)")\n")
        let totalWeight = generator.versions.reduce(0) { $0 + $1.weight }
        let health = await withTaskGroup(of: (Int, String?).self) { group in
            for (index, version) in generator.versions.enumerated() {
                group.addTask {
                    do {
                        try await makeGenerator(version.backend, timeout: generator.timeout).checkHealth()
                        return (index, nil)
                    } catch {
                        return (index, "\(error)")
                    }
                }
            }
            var health: [Int: String?] = [:]
            for await (index, failure) in group { health[index] = failure }
            return health
        }
        print("| version | traffic | backend | model | defaults | health |\n|---|---:|---|---|---|---|")
        var trafficDown = false
        for (index, version) in generator.versions.enumerated() {
            let made = makeGenerator(version.backend, timeout: generator.timeout)
            let share = version.weight > 0 ? String(format: "%.0f %%", version.weight / totalWeight * 100) : "0 (history only)"
            let failure = health[index] ?? nil
            if failure != nil, version.weight > 0 { trafficDown = true }
            print("| \(version.name) | \(share) | \(made.backend) | \(made.model) | \(describe(version.defaults)) | \(failure.map { "down: \($0)" } ?? "ok") |")
        }
        if trafficDown { throw ExitCode(1) }
    }

    /// `steps 30, guidance 7.5, 512×512, negative "blurry"`, or `—`.
    private func describe(_ defaults: GenerationDefaults) -> String {
        var parts: [String] = []
        if let steps = defaults.steps { parts.append("steps \(steps)") }
        if let guidance = defaults.guidanceScale { parts.append("guidance \(guidance)") }
        if defaults.width != nil || defaults.height != nil {
            parts.append("\(defaults.width.map(String.init) ?? "512")×\(defaults.height.map(String.init) ?? "512")")
        }
        if let negative = defaults.negativePrompt { parts.append("negative \"\(negative)\"") }
        return parts.isEmpty ? "—" : parts.joined(separator: ", ")
    }
}
