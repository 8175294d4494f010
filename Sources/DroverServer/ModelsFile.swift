import DroverCore
import Foundation
import TOMLKit

/// The models file: Drover's model versions, one `[[version]]` table each (docs/operations.md).
///
/// ```toml
/// [[version]]
/// name = "sd15"                       # the model_version column
/// backend = "openai"                  # procedural | openai | automatic1111
/// url = "http://127.0.0.1:7861"
/// model = "sd15"                      # optional: what to ask the backend for
/// api_key_env = "WORKER_API_KEY"      # optional: the variable holding its bearer key
/// weight = 1                          # share of blinded traffic; 0 keeps it for history only
/// defaults = { steps = 30, guidance_scale = 7.5, width = 512, height = 512, negative_prompt = "blurry" }
/// ```
///
/// Keys are never in the file: `api_key_env` names the environment variable that holds one.
enum ModelsFile {
    /// Reads and checks the file at `path`.
    /// - Parameter environment: where `api_key_env` variables are looked up.
    /// - Throws: ``ConfigurationError`` naming the file and the line or key that is wrong.
    static func read(_ path: String, environment: (String) -> String?) throws(ConfigurationError) -> [ModelVersion] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("the models file \(path) cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("the models file \(path) is not UTF-8 text")
        }
        return try parse(text, file: path, environment: environment)
    }

    /// Parses and checks a models file's text.
    /// - Parameter file: the file's name, for messages.
    static func parse(_ text: String, file: String, environment: (String) -> String?) throws(ConfigurationError) -> [ModelVersion] {
        let document: Document
        do {
            document = try TOMLDecoder(strictDecoding: true).decode(Document.self, from: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError("\(file): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch let error as UnexpectedKeysError {
            let keys = error.keys.values.map { path($0) }.sorted().joined(separator: ", ")
            throw ConfigurationError("\(file): unknown key \(keys) (a version has name, backend, url, model, api_key_env, weight, defaults)")
        } catch let error as DecodingError {
            throw ConfigurationError("\(file): \(describe(error))")
        } catch {
            throw ConfigurationError("\(file): \(error)")
        }
        guard !document.version.isEmpty else {
            throw ConfigurationError("\(file) has no [[version]] table: name at least one model version")
        }
        var versions: [ModelVersion] = []
        for (index, entry) in document.version.enumerated() {
            let key = "\(file): version[\(index)]"
            guard ModelVersionName.isValid(entry.name) else {
                throw ConfigurationError("\(key).name \"\(entry.name)\": \(GenerationRequestError.badModelVersion)")
            }
            guard !versions.contains(where: { $0.name == entry.name }) else {
                throw ConfigurationError("\(key).name \"\(entry.name)\" names a version twice")
            }
            let weight = entry.weight ?? 1
            guard weight.isFinite, weight >= 0, weight <= 1_000_000 else {
                throw ConfigurationError("\(key).weight must be a number from 0 to 1000000")
            }
            let backend = try GeneratorSettings.backend(entry.backend, setting: "\(key).backend") { setting throws(ConfigurationError) in
                switch setting {
                case .url: return entry.url
                case .model: return entry.model
                case .apiKey:
                    guard let variable = entry.apiKeyEnv else { return nil }
                    guard let apiKey = environment(variable) else {
                        throw ConfigurationError("\(key).api_key_env names \(variable), which is not set")
                    }
                    return apiKey
                }
            }
            let defaults: GenerationDefaults
            do {
                let given = entry.defaults ?? Defaults()
                defaults = try GenerationDefaults(
                    steps: given.steps, guidanceScale: given.guidanceScale, width: given.width, height: given.height,
                    negativePrompt: given.negativePrompt
                )
            } catch {
                throw ConfigurationError("\(key).defaults: \(error)")
            }
            versions.append(ModelVersion(name: entry.name, backend: backend, defaults: defaults, weight: weight))
        }
        guard versions.contains(where: { $0.weight > 0 }) else {
            throw ConfigurationError("\(file): every version has weight 0; give at least one some traffic")
        }
        return versions
    }

    // MARK: - The file's shape

    struct Document: Decodable {
        var version: [Entry]

        enum CodingKeys: String, CodingKey {
            case version
        }

        init(from decoder: any Decoder) throws {
            version = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([Entry].self, forKey: .version) ?? []
        }
    }

    struct Entry: Decodable {
        var name: String
        var backend: String
        var url: String?
        var model: String?
        var apiKeyEnv: String?
        var weight: Double?
        var defaults: Defaults?

        enum CodingKeys: String, CodingKey {
            case name, backend, url, model, weight, defaults
            case apiKeyEnv = "api_key_env"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            backend = try container.decode(String.self, forKey: .backend)
            url = try container.decodeIfPresent(String.self, forKey: .url)
            model = try container.decodeIfPresent(String.self, forKey: .model)
            apiKeyEnv = try container.decodeIfPresent(String.self, forKey: .apiKeyEnv)
            weight = try container.decodeNumberIfPresent(forKey: .weight)
            defaults = try container.decodeIfPresent(Defaults.self, forKey: .defaults)
        }
    }

    struct Defaults: Decodable {
        var steps: Int?
        var guidanceScale: Double?
        var width: Int?
        var height: Int?
        var negativePrompt: String?

        enum CodingKeys: String, CodingKey {
            case steps, width, height
            case guidanceScale = "guidance_scale"
            case negativePrompt = "negative_prompt"
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            steps = try container.decodeIfPresent(Int.self, forKey: .steps)
            guidanceScale = try container.decodeNumberIfPresent(forKey: .guidanceScale)
            width = try container.decodeIfPresent(Int.self, forKey: .width)
            height = try container.decodeIfPresent(Int.self, forKey: .height)
            negativePrompt = try container.decodeIfPresent(String.self, forKey: .negativePrompt)
        }
    }

    // MARK: - Messages

    /// `version[1].defaults.steps`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.reduce("") { path, key in
            if let index = key.intValue { return path + "[\(index)]" }
            return path.isEmpty ? key.stringValue : path + "." + key.stringValue
        }
    }

    /// What is wrong, at which key.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            let at = path(context.codingPath.last?.stringValue == key.stringValue ? context.codingPath : context.codingPath + [key])
            return "\(at) is missing or not the right type"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension KeyedDecodingContainer {
    /// A TOML number, written as an integer (`1`) or a float (`1.5`).
    fileprivate func decodeNumberIfPresent(forKey key: Key) throws -> Double? {
        if let integer = try? decodeIfPresent(Int.self, forKey: key) { return Double(integer) }
        return try decodeIfPresent(Double.self, forKey: key)
    }
}
