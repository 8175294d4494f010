import DroverCore

/// A named model: the `model_version` column of the images it makes, the backend that makes them,
/// the settings it uses where a request leaves them open, and its share of the blinded traffic.
public struct ModelVersion: Sendable, CustomStringConvertible {
    /// The `model_version` column.
    public var name: String
    public var backend: GeneratorSettings.Backend
    public var defaults: GenerationDefaults
    /// Its share of blindly assigned images, relative to the other versions' weights; 0 keeps the
    /// version for history (and for requests that pin it) but gives it no traffic.
    public var weight: Double

    public init(name: String, backend: GeneratorSettings.Backend, defaults: GenerationDefaults = GenerationDefaults(), weight: Double = 1) {
        self.name = name
        self.backend = backend
        self.defaults = defaults
        self.weight = weight
    }

    public var description: String { "\(name) (\(backend), weight \(weight))" }
}
