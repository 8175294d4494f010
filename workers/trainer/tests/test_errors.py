"""Bad input is one line on stderr and exit status 2, before any model is loaded, and nothing
is written to --out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import TRAINER_ROOT, WORKER_ROOT, events, train_args, write_csv, write_kto_export, write_pairs_export

from drover_trainer.cli import main

PAIRS_HEADER = ["caption", "jpg_0", "jpg_1", "label_0", "label_1", "model_0", "model_1"]


def fails(capsys, argv, message: str) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("drover-trainer: error: ")
    assert message in err, err


def test_empty_export(tmp_path, tiny_base, capsys):
    os.makedirs(tmp_path / "export" / "images")
    write_csv(str(tmp_path / "export" / "pairs.csv"), PAIRS_HEADER, [])
    fails(capsys, train_args("dpo", tiny_base, str(tmp_path / "export"), str(tmp_path / "out")), "is empty")
    assert not (tmp_path / "out").exists()


def test_export_without_the_methods_file(tmp_path, tiny_base, kto_export, capsys):
    fails(capsys, train_args("dpo", tiny_base, kto_export, str(tmp_path / "out")), "drover export --format pairs")


def test_too_few_pairs(tmp_path, tiny_base, capsys):
    data = write_pairs_export(str(tmp_path / "export"), per_prompt=1, ties=2)  # 4 decided pairs, 2 ties
    fails(capsys, train_args("dpo", tiny_base, data, str(tmp_path / "out")), "too few pairs to train on: 4 decided pair(s) (2 tie(s) skipped)")


def test_kto_needs_both_labels(tmp_path, tiny_base, capsys):
    data = write_kto_export(str(tmp_path / "export"))
    path = os.path.join(data, "train_processed_v3.csv")
    with open(path) as f:
        text = f.read().replace("exclusive_lose", "exclusive_win")
    with open(path, "w") as f:
        f.write(text)
    fails(capsys, train_args("kto", tiny_base, data, str(tmp_path / "out")), "both 👍 and 👎")


@pytest.mark.parametrize("index, message", [
    (None, "has no model_index.json"),
    ({"_class_name": "StableDiffusionXLPipeline", "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]}, "SDXL"),
    ({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDPMScheduler"]},
     "not a Stable Diffusion pipeline"),
])
def test_base_that_is_not_stable_diffusion(tmp_path, pairs_export, capsys, index, message):
    base = tmp_path / "base"
    base.mkdir()
    if index is not None:
        (base / "model_index.json").write_text(json.dumps(index))
    fails(capsys, train_args("dpo", str(base), pairs_export, str(tmp_path / "out")), message)


def test_non_empty_output_directory(tmp_path, tiny_base, pairs_export, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    fails(capsys, train_args("dpo", tiny_base, pairs_export, str(tmp_path / "out")), "is not empty")
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


def test_bad_setting(tmp_path, tiny_base, pairs_export, capsys):
    fails(capsys, train_args("dpo", tiny_base, pairs_export, str(tmp_path / "out"), "--resolution", "60"), "multiple of 8")
    fails(capsys, ["--method", "sft"], "invalid choice")


def run_module(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TRAINER_ROOT, WORKER_ROOT]), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "drover_trainer", *argv], capture_output=True, text=True, env=env,
                          timeout=120)


def test_module_exits_2_with_one_line(tmp_path, tiny_base, pairs_export):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    done = run_module(*train_args("dpo", tiny_base, pairs_export, str(tmp_path / "out")))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"drover-trainer: error: --out {tmp_path / 'out'} is not empty: choose a new directory"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, tiny_base, pairs_export):
    done = run_module(*train_args("dpo", tiny_base, pairs_export, str(tmp_path / "out"), "--dry-run",
                                  "--dataset-commit", "abc123", "--votes", "32"))
    assert done.returncode == 0, done.stderr
    [plan] = events(done.stdout)
    assert plan["event"] == "plan" and plan["device"] == "cpu" and plan["base_class"] == "StableDiffusionPipeline"
    assert plan["dataset"]["Pairs used"] == 16 and plan["hyperparameters"]["beta"] == 2500.0
    assert not (tmp_path / "out").exists()
