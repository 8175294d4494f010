import DroverServer
import Testing

@Suite struct GeneratorSettingsTests {
    static let key = "sk-live-0123456789abcdef"

    func settings(_ environment: [String: String]) throws(ConfigurationError) -> GeneratorSettings {
        try DroverConfiguration(environment: environment).generator
    }

    @Test func defaultsToTheProceduralPainterWithTheDocumentedLimits() throws {
        let defaults = try settings([:])
        #expect(defaults.versions.map(\.name) == ["0-1"] && defaults.versions[0].weight == 1 && defaults.modelsFile == nil)
        guard case .procedural = defaults.versions[0].backend else { Issue.record("not procedural: \(defaults)"); return }
        #expect(defaults.timeout == .seconds(120))
        #expect(defaults.concurrency == 2)
        #expect(defaults.queueLimit == 16)
    }

    @Test func readsARemoteBackendAndItsLimits() throws {
        let read = try settings([
            "DROVER_GENERATOR": "automatic1111", "DROVER_GENERATOR_URL": "http://gpu.local:7860", "DROVER_GENERATOR_MODEL": "sd15",
            "DROVER_GENERATOR_API_KEY": Self.key, "DROVER_GENERATOR_TIMEOUT_S": "2.5", "DROVER_GENERATOR_CONCURRENCY": "3",
            "DROVER_GENERATOR_QUEUE": "0",
        ])
        guard case .automatic1111(let endpoint) = read.versions[0].backend else { Issue.record("not automatic1111: \(read)"); return }
        #expect(endpoint.url == "http://gpu.local:7860" && endpoint.model == "sd15" && endpoint.apiKey == Self.key)
        #expect(read.timeout == .milliseconds(2_500))
        #expect(read.concurrency == 3 && read.queueLimit == 0)
    }

    @Test(arguments: ["openai", "automatic1111"])
    func aRemoteBackendNeedsItsURL(_ backend: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try settings(["DROVER_GENERATOR": backend, "DROVER_GENERATOR_API_KEY": Self.key])
        }
        #expect(error?.description.hasPrefix("DROVER_GENERATOR=\(backend) needs DROVER_GENERATOR_URL") == true)
    }

    @Test(arguments: [
        ("DROVER_GENERATOR", "dall-e", "DROVER_GENERATOR \"dall-e\" is not one this build has (procedural, openai, automatic1111)"),
        ("DROVER_GENERATOR_URL", "gpu.local:7860", "DROVER_GENERATOR_URL must be an http:// or https:// address"),
        ("DROVER_GENERATOR_TIMEOUT_S", "0", "DROVER_GENERATOR_TIMEOUT_S must be a number of seconds above 0 (at most a day)"),
        ("DROVER_GENERATOR_CONCURRENCY", "0", "DROVER_GENERATOR_CONCURRENCY must be a whole number from 1 to 10000"),
        ("DROVER_GENERATOR_QUEUE", "-1", "DROVER_GENERATOR_QUEUE must be a whole number from 0 to 10000"),
    ])
    func aBadSettingIsNamed(_ key: String, _ value: String, _ message: String) {
        var environment = ["DROVER_GENERATOR": "openai", "DROVER_GENERATOR_URL": "http://127.0.0.1:7861", "DROVER_GENERATOR_API_KEY": Self.key]
        environment[key] = value
        let error = #expect(throws: ConfigurationError.self) { try settings(environment) }
        #expect(error?.description == message)
    }

    @Test func theKeyIsInNoDescription() throws {
        let configuration = try DroverConfiguration(environment: [
            "DROVER_GENERATOR": "openai", "DROVER_GENERATOR_URL": "https://api.example.com", "DROVER_GENERATOR_API_KEY": Self.key,
        ])
        #expect(configuration.generator.description == "GeneratorSettings(versions: [0-1 (openai(model: default, key: set), weight 1.0)], timeout: 120.0 seconds, concurrency: 2, queue: 16)")
        #expect(!String(describing: configuration).contains(Self.key))
        #expect(!String(reflecting: configuration).contains(Self.key))
    }
}
