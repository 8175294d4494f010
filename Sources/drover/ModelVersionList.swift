import ArgumentParser
import DroverCore

/// `--versions A,B`: model versions, comma-separated.
struct ModelVersionList: ExpressibleByArgument, CustomStringConvertible {
    var names: Set<String>
    /// As given, for passing on.
    var description: String

    init?(argument: String) {
        let names = argument.split(separator: ",").map { $0.trimmingWhitespace() }
        guard !names.isEmpty, names.allSatisfy(ModelVersionName.isValid) else { return nil }
        self.names = Set(names)
        description = names.joined(separator: ",")
    }
}
