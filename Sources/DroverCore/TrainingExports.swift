/// The row mapping of Drover's training exports: pure functions from the rows of
/// the dataset's rows (and the images' provenance) to each consumer's records. Image paths are
/// the rows' `images/<shard>/<id>.png`, relative to the export's root, which holds the images.
public enum TrainingExports {
    /// The Hugging Face `imagefolder` layout: one `metadata.jsonl` line per vote.
    public static func imageFolder(_ rows: [SeedRow], provenance: [ImageID: ImageProvenance]) -> [ImageFolderRecord] {
        rows.map { row in
            ImageFolderRecord(
                fileName: row.path, prompt: row.prompt, rating: row.rating.rawValue, rater: row.rater, modelVersion: row.modelVersion,
                votedAt: row.votedAt, source: row.source, provenance: row.imageID.flatMap { provenance[$0] }
            )
        }
    }

    /// TRL's unpaired preference (KTO) format: one record per vote, the image as the completion,
    /// `label` true for `Approve`.
    public static func kto(_ rows: [SeedRow]) -> [KTORecord] {
        rows.map { KTORecord(prompt: $0.prompt, completion: $0.path, label: $0.rating == .approve) }
    }

    /// The Diffusion-KTO CSV: one row per rated image, `exclusive_win` when every rater approved
    /// it, `exclusive_lose` when every rater disapproved, `intersections` when it has both (the
    /// reference trainer's `--label_policy` decides what those count as).
    public static func diffusionKTO(_ rows: [SeedRow]) -> [DiffusionKTORow] {
        RatedImage.all(in: rows).compactMap { image in
            let split: DiffusionKTORow.Split? = switch (image.approvals, image.disapprovals) {
            case (1..., 0): .exclusiveWin
            case (0, 1...): .exclusiveLose
            case (1..., 1...): .intersections
            default: nil
            }
            return split.map { DiffusionKTORow(filePath: image.path, caption: image.prompt, split: $0) }
        }
    }

    /// Pick-a-Pic-style preference pairs: every two rated images of the same prompt, the one with
    /// the higher net rating (approvals − disapprovals) labelled 1 and the other 0; equal net
    /// ratings are a tie, 0.5 / 0.5. `jpg_0` is the image with the smaller id.
    public static func pairs(_ rows: [SeedRow]) -> [PreferencePair] {
        var pairs: [PreferencePair] = []
        let byPrompt = Dictionary(grouping: RatedImage.all(in: rows), by: \.prompt)
        for prompt in byPrompt.keys.sorted() {
            let images = byPrompt[prompt, default: []]
            for (index, first) in images.enumerated() {
                for second in images[(index + 1)...] {
                    let label0: Double = first.net > second.net ? 1 : first.net < second.net ? 0 : 0.5
                    pairs.append(PreferencePair(
                        caption: prompt, jpg0: first.path, jpg1: second.path, label0: label0, label1: 1 - label0,
                        model0: first.modelVersion, model1: second.modelVersion
                    ))
                }
            }
        }
        return pairs
    }
}

/// One image with its votes counted, in order of image path.
struct RatedImage {
    var path: String
    var prompt: String
    var modelVersion: String
    var approvals = 0
    var disapprovals = 0
    var net: Int { approvals - disapprovals }

    static func all(in rows: [SeedRow]) -> [RatedImage] {
        var images: [String: RatedImage] = [:]
        for row in rows {
            var image = images[row.path] ?? RatedImage(path: row.path, prompt: row.prompt, modelVersion: row.modelVersion)
            if row.rating == .approve { image.approvals += 1 } else { image.disapprovals += 1 }
            images[row.path] = image
        }
        return images.values.sorted { $0.path < $1.path }
    }
}

/// One line of an `imagefolder` export's `metadata.jsonl`.
public struct ImageFolderRecord: Encodable, Sendable, Equatable {
    public var fileName: String
    public var prompt: String
    public var rating: String
    public var rater: String
    public var modelVersion: String
    public var votedAt: String?
    public var source: String?
    /// The image's provenance line, when the dataset has one.
    public var provenance: ImageProvenance?

    enum CodingKeys: String, CodingKey {
        case prompt, rating, rater, source, provenance
        case fileName = "file_name"
        case modelVersion = "model_version"
        case votedAt = "voted_at"
    }

    /// Every key is written, `null` when absent, so that every line has the same columns.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(fileName, forKey: .fileName)
        try container.encode(prompt, forKey: .prompt)
        try container.encode(rating, forKey: .rating)
        try container.encode(rater, forKey: .rater)
        try container.encode(modelVersion, forKey: .modelVersion)
        try container.encode(votedAt, forKey: .votedAt)
        try container.encode(source, forKey: .source)
        try container.encode(provenance, forKey: .provenance)
    }
}

/// One line of a `kto` export: TRL's unpaired preference fields.
public struct KTORecord: Codable, Sendable, Equatable {
    public var prompt: String
    /// The image's path.
    public var completion: String
    /// `true` for a desirable completion (approved), `false` for an undesirable one.
    public var label: Bool

    public init(prompt: String, completion: String, label: Bool) {
        self.prompt = prompt
        self.completion = completion
        self.label = label
    }
}

/// One row of a `diffusion-kto` export (`train_processed_v3.csv`): the columns the reference
/// trainer (`jacklishufan/diffusion-kto`, its Pick-a-Pic loader) reads — `file_name`, `caption`,
/// `split` — then the paper README's `file_path` and `label`, which name the same things.
public struct DiffusionKTORow: Sendable, Equatable {
    /// The CSV header.
    public static let columns = ["file_name", "caption", "split", "file_path", "label"]

    /// Whether the raters agreed: Diffusion-KTO's splits.
    public enum Split: String, Sendable {
        case exclusiveWin = "exclusive_win"
        case exclusiveLose = "exclusive_lose"
        case intersections
    }

    /// The image, relative to the export's root.
    public var filePath: String
    public var caption: String
    public var split: Split

    public init(filePath: String, caption: String, split: Split) {
        self.filePath = filePath
        self.caption = caption
        self.split = split
    }

    /// The fields in ``columns`` order.
    public var fields: [String] { [filePath, caption, split.rawValue, filePath, split.rawValue] }
}

/// One row of a `pairs` export, in Pick-a-Pic's columns.
public struct PreferencePair: Sendable, Equatable {
    /// The CSV header.
    public static let columns = ["caption", "jpg_0", "jpg_1", "label_0", "label_1", "model_0", "model_1"]

    public var caption: String
    public var jpg0: String
    public var jpg1: String
    public var label0: Double
    public var label1: Double
    public var model0: String
    public var model1: String

    /// The fields in ``columns`` order.
    public var fields: [String] { [caption, jpg0, jpg1, "\(label0)", "\(label1)", model0, model1] }
}
