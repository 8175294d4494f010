import DroverOxen
import Testing

@Suite struct OxenAuthConfigTests {
    @Test func readsHostConfigs() throws {
        let text = """
            # written by `oxen config --auth`
            default_host = "hub.oxen.ai"

            [[host_configs]]
            host = "hub.oxen.ai"
            auth_token = "tok-\\"one\\""

            [[host_configs]]
            host = '127.0.0.1:3000'   # a comment
            auth_token = 'two'

            [other]
            host = "x"
            auth_token = "not a host config"
            """
        let configs = try OxenAuthConfig.parse(text)
        #expect(configs == [
            .init(host: "hub.oxen.ai", authToken: "tok-\"one\""), .init(host: "127.0.0.1:3000", authToken: "two"),
        ])
    }

    @Test func anUnclosedStringIsAnError() {
        #expect(throws: OxenAuthConfig.ParseError.self) { try OxenAuthConfig.parse("[[host_configs]]\nhost = \"a\nauth_token = \"b\"") }
    }

    @Test func tokenFromTheFileAndNeverInADescription() throws {
        let settings = try #require(try OxenSettings.read { key in
            ["DROVER_OXEN_REPO": "ox/data", "DROVER_OXEN_TOKEN": "s3cret"][key]
        })
        #expect(settings.host == "hub.oxen.ai" && settings.scheme == "https" && settings.branch == "main")
        #expect(!"\(settings)".contains("s3cret"))
        #expect(throws: OxenSettingsError.self) { try OxenSettings.read { ["DROVER_OXEN_REPO": "no-slash", "DROVER_OXEN_TOKEN": "t"][$0] } }
        #expect(throws: OxenSettingsError.self) { try OxenSettings.read { ["DROVER_OXEN_REPO": "a/b", "OXEN_CONFIG_DIR": "/nonexistent"][$0] } }
    }
}
