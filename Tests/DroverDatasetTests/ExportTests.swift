import DroverCore
@testable import DroverDataset
import DroverGit
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// Each export, pinned to a commit, read back by the library that trains on it (installed from
/// PyPI into .venv by scripts/test, see requirements-dev.txt).
@Suite struct ExportTests {
    /// Three real PNGs: "an ox" ×2 (a: 2 👍; b: 👍 👎), "a cow" ×1 (c: 👎); then a later commit
    /// that the exports pinned to the first one must not see.
    static func fixture() async throws -> (DatasetFixture, pinned: String, images: [ImageID]) {
        let fixture = try await DatasetFixture()
        try await fixture.committer.reconcile()
        let pngs = try await tinyPNGs(count: 3, in: fixture.directory.path)
        let oxen = try fixture.addImages(prompt: "an ox", pngs: Array(pngs[0..<2]))
        let cow = try fixture.addImages(prompt: "a cow", pngs: [pngs[2]])
        try fixture.vote(.up, by: "r1", on: oxen[0])
        try fixture.vote(.up, by: "r2", on: oxen[0])
        try fixture.vote(.up, by: "r1", on: oxen[1])
        try fixture.vote(.down, by: "r2", on: oxen[1])
        try fixture.vote(.down, by: "r1", on: cow[0])
        try await fixture.committer.commitAll()
        let pinned = try await fixture.git.run(["rev-parse", "HEAD"]).trimmingWhitespace()
        try fixture.vote(.down, by: "r3", on: oxen[0])
        try await fixture.committer.commitAll()
        return (fixture, pinned, oxen + cow)
    }

    func export(_ format: ExportFormat, _ fixture: DatasetFixture, at revision: String) async throws -> (String, ExportSummary) {
        let out = fixture.directory.path + "/export-\(format.rawValue)"
        let summary = try await DatasetHistory(directory: fixture.repository.directory).export(format, at: revision, to: out)
        return (out, summary)
    }

    @Test func seedCSVIsTheCommittedFileAndImages() async throws {
        let (fixture, pinned, _) = try await Self.fixture()
        defer { fixture.directory.remove() }
        let (out, summary) = try await export(.seedCSV, fixture, at: String(pinned.prefix(8)))
        #expect(summary == ExportSummary(commit: pinned, records: 5, images: 3))
        let rows = try await runPython("""
            import pandas, sys
            rows = pandas.read_csv(sys.argv[1] + "/annotations/train.csv")
            print(list(rows.columns)[:5], len(rows), sorted(set(rows.rater)))
            """, [out])
        #expect(rows == "['prompt', 'path', 'rating', 'rater', 'model_version'] 5 ['r1', 'r2']\n")
        await #expect(throws: ExportError.self) { try await self.export(.seedCSV, fixture, at: "HEAD") }
    }

    /// Without an export: the repository's own rows files, as Hugging Face `datasets` reads a
    /// folder of CSVs, each path opening its image relative to the dataset's root.
    @Test func theRepositoryItselfLoadsWithHuggingFaceDatasets() async throws {
        let (fixture, _, images) = try await Self.fixture()
        defer { fixture.directory.remove() }
        let loaded = try await runPython("""
            import os; os.environ["HF_HUB_OFFLINE"] = "1"
            import sys, datasets, PIL.Image
            root = sys.argv[1]
            ds = datasets.load_dataset("csv", data_files=root + "/annotations/train/*/*.csv", split="train")
            sizes = {PIL.Image.open(os.path.join(root, path)).size for path in ds["path"]}
            print(len(ds), sorted(set(ds["rater"])), sizes, sorted(set(ds["path"]))[0])
            """, [fixture.repository.directory])
        #expect(loaded == "6 ['r1', 'r2', 'r3'] {(8, 8)} \(images.map(\.datasetPath).sorted()[0])\n")
    }

    @Test func imageFolderLoadsWithHuggingFaceDatasets() async throws {
        let (fixture, pinned, images) = try await Self.fixture()
        defer { fixture.directory.remove() }
        let (out, summary) = try await export(.imageFolder, fixture, at: pinned)
        #expect(summary.records == 5)
        let loaded = try await runPython("""
            import os; os.environ["HF_HUB_OFFLINE"] = "1"
            import sys, datasets
            ds = datasets.load_dataset("imagefolder", data_dir=sys.argv[1], split="train")
            first = ds[0]
            print(len(ds), sorted(ds.column_names))
            print(first["image"].size, first["prompt"], first["rating"], first["rater"], first["model_version"])
            print(first["provenance"]["id"], first["provenance"]["backend"])
            """, [out])
        #expect(loaded == """
            5 ['image', 'model_version', 'prompt', 'provenance', 'rater', 'rating', 'source', 'voted_at']
            (8, 8) an ox Approve r1 0-1
            \(images[0]) procedural

            """)
    }

    @Test func ktoLoadsAsTRLUnpairedPreferenceData() async throws {
        let (fixture, pinned, images) = try await Self.fixture()
        defer { fixture.directory.remove() }
        let (out, _) = try await export(.kto, fixture, at: pinned)
        let checked = try await runPython("""
            import os; os.environ["HF_HUB_OFFLINE"] = "1"
            import sys, datasets
            from trl.data_utils import is_conversational, maybe_unpair_preference_dataset
            ds = datasets.load_dataset("json", data_files=sys.argv[1] + "/kto.jsonl", split="train")
            ds = maybe_unpair_preference_dataset(ds)  # already unpaired: unchanged
            assert set(ds.column_names) == {"prompt", "completion", "label"}, ds.column_names
            assert ds.features["label"].dtype == "bool"
            assert not is_conversational(ds[0])
            assert all(os.path.isfile(os.path.join(sys.argv[1], c)) for c in ds["completion"])
            print(len(ds), sum(ds["label"]), ds[0]["completion"])
            """, [out])
        #expect(checked == "5 3 \(datasetPath(images[0]))\n")
    }

    @Test func diffusionKTOAndPairsLoadAsCSV() async throws {
        let (fixture, pinned, images) = try await Self.fixture()
        defer { fixture.directory.remove() }
        let (kto, _) = try await export(.diffusionKTO, fixture, at: pinned)
        let (pairs, _) = try await export(.pairs, fixture, at: pinned)
        let checked = try await runPython("""
            import os; os.environ["HF_HUB_OFFLINE"] = "1"
            import sys, datasets
            import pandas as pd
            # As jacklishufan/diffusion-kto's train_kto_sd_v1.5.py reads its Pick-a-Pic data: the
            # file f"{pick_split}_processed_v3.csv" (pick_split "train") under train_data_dir, its
            # file_name, caption and split columns, images opened at train_data_dir/file_name.
            kto = pd.read_csv(os.path.join(sys.argv[1], "train_processed_v3.csv"))
            assert all(os.path.exists(os.path.join(sys.argv[1], name)) for name in kto["file_name"])
            assert all(isinstance(caption, str) for caption in kto["caption"])
            print(list(kto.columns), sorted(zip(kto["file_name"], kto["split"])))
            pairs = datasets.load_dataset("csv", data_files=sys.argv[2] + "/pairs.csv", split="train")
            print(pairs.column_names, len(pairs), pairs[0]["caption"], pairs[0]["label_0"], pairs[0]["label_1"])
            """, [kto, pairs])
        let expectedKTO = [
            ("\(datasetPath(images[0]))", "exclusive_win"), ("\(datasetPath(images[1]))", "intersections"), ("\(datasetPath(images[2]))", "exclusive_lose"),
        ]
            .sorted { $0.0 < $1.0 }.map { "('\($0.0)', '\($0.1)')" }.joined(separator: ", ")
        let ox = images[0] < images[1] ? (1.0, 0.0) : (0.0, 1.0)
        #expect(checked == """
            ['file_name', 'caption', 'split', 'file_path', 'label'] [\(expectedKTO)]
            ['caption', 'jpg_0', 'jpg_1', 'label_0', 'label_1', 'model_0', 'model_1'] 1 an ox \(ox.0) \(ox.1)

            """)
    }
}
