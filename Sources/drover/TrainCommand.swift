import ArgumentParser
import DroverCore
import DroverDataset
import DroverServer
import Foundation
import Subprocess
import SystemPackage

/// `drover train`: from a pinned dataset commit to a LoRA adapter, in one command. Exports the
/// votes in the format the method reads, runs the trainer (`workers/trainer`), and shows its
/// progress; the trainer writes the adapter and its model card.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a LoRA adapter on the votes: Diffusion-DPO on pairs or Diffusion-KTO on every 👍 / 👎.",
        discussion: """
            Arguments after `--` go to the trainer as they are (e.g. `-- --steps 200 --beta 5000`); \
            `python -m drover_trainer --help` lists them.
            """
    )

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case dpo, kto

        /// The export the method reads.
        var exportFormat: ExportFormat { self == .dpo ? .pairs : .diffusionKTO }
    }

    @OptionGroup var settings: SettingsOptions
    @Option(help: "dpo (preference pairs) or kto (every vote).") var method: Method
    @Option(help: "The Stable Diffusion 1.x / 2.x pipeline to start from: a local diffusers directory or a Hub id.") var base: String
    @Option(help: "The dataset revision to train on (a commit, tag or branch).") var at = "HEAD"
    @Option(help: "Only votes on images of these model versions, comma-separated (e.g. 0-1,0-2).") var versions: ModelVersionList?
    @Option(help: "Where the adapter goes: an empty or new directory.") var out: String
    @Flag(help: "Check everything and print what would be used; train nothing.") var dryRun = false
    @Option(help: "The Python with the trainer's requirements (default: .venv/bin/python if present, else python3).") var python: String?
    @Option(help: "The trainer's directory (holding drover_trainer/).") var trainer = "workers/trainer"
    @Argument(parsing: .postTerminator, help: "Arguments for the trainer.") var trainerArguments: [String] = []

    func validate() throws {
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: out), !existing.isEmpty {
            throw ValidationError("\(out) is not empty: the adapter needs an empty or new directory")
        }
        guard FileManager.default.fileExists(atPath: trainer + "/drover_trainer/__main__.py") else {
            throw ValidationError("no trainer at \(trainer) (give --trainer, the path to workers/trainer)")
        }
    }

    func run() async throws {
        let configuration = try settings.load()
        let export = FileManager.default.temporaryDirectory.appending(path: "drover-train-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: export) }
        let versionSet = versions?.names
        let written = try await DatasetHistory(directory: configuration.datasetDirectory)
            .export(method.exportFormat, at: at, versions: versionSet, to: export)
        guard written.records > 0 else {
            throw TrainError("the export at \(written.commit.prefix(10)) has no \(method == .dpo ? "pairs" : "rated images") to train on")
        }
        print("exported \(counted(written.records, method == .dpo ? "pair" : "rated image")) of commit \(written.commit.prefix(10))")

        var arguments = [
            "-m", "drover_trainer", "--method", method.rawValue, "--base", base, "--data", export, "--out", out,
            "--dataset-commit", written.commit,
        ]
        arguments += ["--votes", String(try await votes(in: configuration.datasetDirectory, at: written.commit, versions: versionSet))]
        if let versions { arguments += ["--versions", versions.description] }
        if dryRun { arguments.append("--dry-run") }
        let interpreter = python ?? (FileManager.default.isExecutableFile(atPath: ".venv/bin/python") ? ".venv/bin/python" : "python3")
        let result = try await Subprocess.run(
            interpreter.contains("/") ? .path(FilePath(interpreter)) : .name(interpreter),
            arguments: Arguments(arguments + trainerArguments),
            environment: .inherit.updating(["PYTHONPATH": trainer]),
            input: .none, output: .sequence, error: .string(limit: 1 << 20)
        ) { execution in
            let progress = TrainingProgress()
            for try await line in execution.standardOutput.strings() {
                progress.show(line)
            }
        }
        guard result.terminationStatus.isSuccess else {
            let message = result.standardError.split(separator: "\n").last { $0.contains("error") } ?? "exited with \(result.terminationStatus)"
            throw TrainError("the trainer failed: \(message)")
        }
    }

    /// How many votes the exported commit holds, for the model card.
    private func votes(in datasetDirectory: String, at commit: String, versions: Set<String>?) async throws -> Int {
        let directory = FileManager.default.temporaryDirectory.appending(path: "drover-votes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await DatasetHistory(directory: datasetDirectory).export(.seedCSV, at: commit, versions: versions, to: directory).records
    }
}

/// Why `drover train` stopped; the message says what to fix.
struct TrainError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The trainer's JSON lines shown as a person reads them: the plan, then one progress line
/// rewritten in place, then where the adapter went.
struct TrainingProgress {
    private let bar = ProgressLine()

    func show(_ line: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let event = object["event"] as? String else {
            return print(line.trimmingWhitespace())
        }
        switch event {
        case "plan":
            let pretty = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data(line.utf8)
            print(String(decoding: pretty, as: UTF8.self))
        case "start":
            print("training on \(object["examples"] ?? "?") examples (\(object["images"] ?? "?") images) on \(object["device"] ?? "?")")
        case "step":
            let step = object["step"] as? Int ?? 0, steps = object["steps"] as? Int ?? 1
            let eta = Int(object["eta_s"] as? Double ?? 0)
            bar.show(step, of: steps, String(
                format: "step %d/%d  loss %.4f  reward accuracy %.2f  %d:%02d left", step, steps,
                object["loss"] as? Double ?? .nan, object["accuracy"] as? Double ?? .nan, eta / 60, eta % 60
            ))
        case "done":
            bar.finish()
            print("wrote the adapter to \(object["out"] ?? "?") (\(object["steps"] ?? "?") steps in \(object["seconds"] ?? "?") s)")
        default:
            print(line)
        }
    }
}
