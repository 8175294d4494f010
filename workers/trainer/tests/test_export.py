"""Reading Drover's exports: orientation, ties, both KTO layouts, the per-vote KTO file."""

from __future__ import annotations

import json
import os

import pytest
from conftest import write_csv, write_image, png, RED, BLUE, write_kto_export, write_pairs_export

from drover_trainer.export import ExportError, read_kto, read_pairs


def test_pairs_put_the_winner_first_whatever_the_column(tmp_path):
    root = write_pairs_export(str(tmp_path), per_prompt=2, ties=2)
    export = read_pairs(root)
    assert export.rows == 18 and export.ties == 2 and len(export.pairs) == 16
    with open(os.path.join(root, "pairs.csv")) as f:
        labels = [line.split(",")[3] for line in f.read().splitlines()[1:]]
    assert {"1.0", "0.0", "0.5"} <= set(labels)  # both orientations and ties occur
    # The winner is always a red image: its red channel is the larger.
    from PIL import Image
    for pair in export.pairs:
        red = Image.open(os.path.join(root, pair.winner)).getpixel((0, 0))
        assert red[0] > red[2]
    assert len(export.images) == 16


def test_kto_reads_the_reference_layout_and_drovers(tmp_path):
    reference = read_kto(write_kto_export(str(tmp_path / "a"), reference_format=True))
    drover = read_kto(write_kto_export(str(tmp_path / "b"), reference_format=False))
    assert reference.file == "train_processed_v3.csv" and drover.file == "diffusion-kto.csv"
    for export in (reference, drover):
        assert (export.desirable, export.undesirable) == (8, 8)
    assert [i.path for i in reference.images] == [i.path for i in drover.images]


@pytest.mark.parametrize("policy, kept, desirable", [("win", 3, 2), ("lose", 3, 1), ("drop", 2, 1)])
def test_kto_intersections_follow_the_policy(tmp_path, policy, kept, desirable):
    paths = [write_image(str(tmp_path), png(color, seed)) for seed, color in enumerate((RED, BLUE, RED))]
    rows = [[paths[0], "ox", "exclusive_win"], [paths[1], "ox", "exclusive_lose"], [paths[2], "ox", "intersections"]]
    write_csv(str(tmp_path / "train_processed_v3.csv"), ["file_name", "caption", "split"], rows)
    export = read_kto(str(tmp_path), intersections=policy)
    assert len(export.images) == kept and export.desirable == desirable


def test_kto_reads_one_record_per_vote(tmp_path):
    path = write_image(str(tmp_path), png(RED, 1))
    with open(tmp_path / "kto.jsonl", "w") as f:
        for label in (True, True, False):
            f.write(json.dumps({"prompt": "ox", "completion": path, "label": label}) + "\n")
    export = read_kto(str(tmp_path))
    assert export.file == "kto.jsonl" and (export.desirable, export.undesirable) == (2, 1)


@pytest.mark.parametrize("row, message", [
    (["ox", "images/nope.png", "images/nope.png", "1.0", "0.0", "0-1", "0-1"], "missing"),
    (["ox", "../x.png", "../x.png", "1.0", "0.0", "0-1", "0-1"], "not relative"),
    (["ox", "{a}", "{a}", "0.7", "0.3", "0-1", "0-1"], "not 1.0, 0.0 or 0.5"),
])
def test_bad_pairs_rows_are_named_by_line(tmp_path, row, message):
    a = write_image(str(tmp_path), png(RED, 1))
    write_csv(str(tmp_path / "pairs.csv"), ["caption", "jpg_0", "jpg_1", "label_0", "label_1", "model_0", "model_1"],
              [[field.replace("{a}", a) for field in row]])
    with pytest.raises(ExportError, match=message) as error:
        read_pairs(str(tmp_path))
    assert "line 2" in str(error.value)
