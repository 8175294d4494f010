import DroverCore
import DroverServer
import DroverTestSupport
import Foundation
import Testing

/// The models file: named versions with backends, defaults and weights; a bad file is one clear
/// error naming its line or key, and Drover does not start.
@Suite struct ModelsFileTests {
    static let key = "sk-live-0123456789abcdef"

    /// The generator settings read with `file` as `$DROVER_DATA_DIR/models.toml`.
    func read(_ file: String, _ environment: [String: String] = [:]) throws(ConfigurationError) -> GeneratorSettings {
        let directory = try! TemporaryDirectory()
        defer { directory.remove() }
        try! file.write(toFile: directory.path + "/models.toml", atomically: true, encoding: .utf8)
        return try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory.path].merging(environment) { $1 }).generator
    }

    @Test func readsVersionsWithTheirBackendsDefaultsAndWeights() throws {
        let settings = try read("""
            # two versions, a third kept for history
            [[version]]
            name = "sd15"
            backend = "openai"
            url = "http://127.0.0.1:7861"
            model = "sd15"
            api_key_env = "WORKER_KEY"
            weight = 3
            defaults = { steps = 30, guidance_scale = 7, width = 768, height = 512, negative_prompt = "blurry" }

            [[version]]
            name = "sd15-dpo-1"
            backend = "openai"
            url = "http://127.0.0.1:7861"
            model = "dpo-1"
            weight = 1.5

            [[version]]
            name = "0-1"
            backend = "procedural"
            weight = 0
            """, ["WORKER_KEY": Self.key, "DROVER_GENERATOR": "automatic1111"])
        #expect(settings.versions.map(\.name) == ["sd15", "sd15-dpo-1", "0-1"])
        #expect(settings.versions.map(\.weight) == [3, 1.5, 0])
        #expect(settings.modelsFile?.hasSuffix("/models.toml") == true, "the file wins over DROVER_GENERATOR")
        guard case .openai(let endpoint) = settings.versions[0].backend else { Issue.record("not openai"); return }
        #expect(endpoint.url == "http://127.0.0.1:7861" && endpoint.model == "sd15" && endpoint.apiKey == Self.key)
        #expect(settings.versions[0].defaults == (try GenerationDefaults(steps: 30, guidanceScale: 7, width: 768, height: 512, negativePrompt: "blurry")))
        #expect(settings.versions[1].defaults == GenerationDefaults())
        guard case .procedural = settings.versions[2].backend else { Issue.record("not procedural"); return }
        #expect(!settings.description.contains(Self.key))
    }

    @Test func droverModelsNamesTheFileAndAMissingOneIsAnError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/elsewhere.toml"
        try "[[version]]\nname = \"a\"\nbackend = \"procedural\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory.path, "DROVER_MODELS": path]).generator
        #expect(settings.versions.map(\.name) == ["a"] && settings.modelsFile == path)
        let error = #expect(throws: ConfigurationError.self) {
            try DroverConfiguration(environment: ["DROVER_DATA_DIR": directory.path, "DROVER_MODELS": path + ".missing"])
        }
        #expect(error?.description == "the models file \(path).missing cannot be read")
    }

    @Test(arguments: [
        ("[[version]\nname = \"a\"", "line 1, column"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\nwieght = 2\n", "unknown key version[0].wieght"),
        ("[[version]]\nbackend = \"procedural\"\n", "version[0].name is missing or not the right type"),
        ("[[version]]\nname = \"a b\"\nbackend = \"procedural\"\n", "version[0].name \"a b\": a model version is 1 to 100 letters"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\n[[version]]\nname = \"a\"\nbackend = \"procedural\"\n", "version[1].name \"a\" names a version twice"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\nweight = -1\n", "version[0].weight must be a number from 0 to 1000000"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\nweight = 0\n", "every version has weight 0"),
        ("[[version]]\nname = \"a\"\nbackend = \"dall-e\"\n", "version[0].backend \"dall-e\" is not one this build has (procedural, openai, automatic1111)"),
        ("[[version]]\nname = \"a\"\nbackend = \"openai\"\n", "version[0].backend=openai needs"),
        ("[[version]]\nname = \"a\"\nbackend = \"openai\"\nurl = \"localhost:7861\"\n", "version[0].url must be an http:// or https:// address"),
        ("[[version]]\nname = \"a\"\nbackend = \"openai\"\nurl = \"http://h\"\napi_key_env = \"NOT_SET\"\n", "version[0].api_key_env names NOT_SET, which is not set"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\ndefaults = { steps = 500 }\n", "version[0].defaults: steps must be between 1 and 150"),
        ("[[version]]\nname = \"a\"\nbackend = \"procedural\"\ndefaults = { width = 500 }\n", "version[0].defaults: width and height must be multiples of 8"),
        ("title = \"x\"\n[[version]]\nname = \"a\"\nbackend = \"procedural\"\n", "unknown key title"),
        ("", "has no [[version]] table"),
    ])
    func aBadFileIsOneClearErrorAndDroverDoesNotStart(_ file: String, _ message: String) {
        let error = #expect(throws: ConfigurationError.self) { try read(file) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.contains("models.toml") == true, "names the file")
    }
}
