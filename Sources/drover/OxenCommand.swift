import ArgumentParser
import DroverOxen
import DroverServer
import DroverStore
import Foundation
import Logging
import Synchronization

/// `drover oxen …`: the mirror to `DROVER_OXEN_REPO`.
struct OxenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oxen", abstract: "The dataset's mirror on Oxen (DROVER_OXEN_REPO).",
        subcommands: [Status.self, Push.self, Verify.self]
    )

    /// The mirror of the configured data directory, with its ledger.
    static func mirror(_ settings: SettingsOptions) throws -> OxenMirror {
        let configuration = try settings.load()
        guard let oxen = configuration.oxen else { throw ValidationError("DROVER_OXEN_REPO is not set") }
        let ledger = try Ledger(path: configuration.ledgerPath)
        return OxenMirror(settings: oxen, ledger: ledger, datasetDirectory: configuration.datasetDirectory, logger: settings.logger())
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What is mirrored, and how far behind the mirror is.")
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let mirror = try OxenCommand.mirror(settings)
            defer { Task { await mirror.shutdown() } }
            let status = mirror.status
            let backlog = try await mirror.backlog()
            print("Oxen repository \(status.repository) on \(status.host), branch \(status.branch)")
            if let last = backlog.last {
                print("mirrored: dataset commit \(last.gitCommit.prefix(10)) as Oxen commit \(last.oxenCommit ?? "(no change)") at \(last.mirroredAt)")
            } else {
                print("mirrored: nothing yet")
            }
            print("dataset main: \(backlog.head.prefix(10)); \(backlog.pending == 0 ? "up to date" : "behind by \(backlog.pending) commit\(backlog.pending == 1 ? "" : "s")")")
            do {
                if let commit = try await mirror.branchHead() {
                    let names = OxenMirror.mirroredCommit(in: commit.message).map { ", dataset commit \($0.prefix(10))" } ?? ""
                    print("Oxen branch head: \(commit.id)\(names)")
                } else {
                    print("Oxen branch head: none (the branch has no commit yet)")
                }
            } catch {
                print("Oxen branch head: unknown (\(error))")
            }
            await mirror.shutdown()
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mirror every dataset commit not yet on Oxen, now.")
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let mirror = try OxenCommand.mirror(settings)
            let bar = ProgressBar()
            do {
                let mirrored = try await mirror.mirrorPending { bar.show($0) }
                bar.finish()
                let status = mirror.status
                print(mirrored == 0
                    ? "nothing to mirror: Oxen has dataset commit \(status.lastMirrored?.prefix(10) ?? "-")"
                    : "mirrored \(mirrored) dataset commit\(mirrored == 1 ? "" : "s"); Oxen commit \(status.lastOxenCommit ?? "-")")
            } catch {
                bar.finish()
                await mirror.shutdown()
                throw error
            }
            await mirror.shutdown()
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the Oxen branch with the dataset's main: annotations byte for byte, every image present."
        )
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let mirror = try OxenCommand.mirror(settings)
            let result: OxenMirror.Verification
            let backlog: OxenMirror.Backlog
            do {
                backlog = try await mirror.backlog()
                result = try await mirror.verify()
            } catch {
                await mirror.shutdown()
                throw error
            }
            await mirror.shutdown()
            if backlog.pending > 0 { print("the mirror is \(backlog.pending) dataset commit(s) behind main: run `drover oxen push` first") }
            for path in result.missing { print("missing on Oxen: \(path)") }
            for path in result.different { print("different on Oxen: \(path)") }
            print("\(result.ok ? "ok" : "FAILED"): \(result.filesCompared) files byte-identical, \(result.imagesFound) images present, \(result.missing.count) missing, \(result.different.count) different (dataset commit \(result.head.prefix(10)))")
            if !result.ok { throw ExitCode(1) }
        }
    }
}

/// The mirror's progress as a ``ProgressLine``, shown only for a backlog worth one.
struct ProgressBar: Sendable {
    private let line = ProgressLine()

    func show(_ progress: OxenMirror.Progress) {
        guard progress.commitsTotal >= 100 || progress.filesTotal >= 100 else { return }
        let files = progress.filesTotal > 0 ? ", uploading \(progress.files)/\(progress.filesTotal) files" : ""
        line.show(progress.commits, of: progress.commitsTotal, "\(progress.commits)/\(progress.commitsTotal) commits\(files)")
    }

    func finish() { line.finish() }
}
