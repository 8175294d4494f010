"""Training on the toy preference (👍 reddish, 👎 bluish) with the tiny pipeline on the CPU:
the objectives fall, the implicit reward accuracy rises above chance, the adapter reloads in
diffusers, and a seed decides the adapter."""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Dict, List

import numpy as np
import pytest
import torch
from conftest import events, train_args

from drover_trainer.cli import main

#: Settings under which the 16-example toys are learned in a few dozen steps. The defaults
#: (β 2500, lr 1e-5) are for SD 1.5 and hundreds of pairs; the toy needs bigger steps.
TOY = ["--batch-size", "16", "--learning-rate", "3e-3", "--beta", "500", "--lr-warmup-steps", "10"]
DPO_STEPS, KTO_STEPS = 60, 80
WINDOW = 20


def run(capsys, argv: List[str]) -> List[Dict]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return events(out)


def mean(records: List[Dict], key: str) -> float:
    return sum(r[key] for r in records) / len(records)


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory, tiny_base, pairs_export):
    """One DPO run on the toy, shared by the tests that read its output."""
    out = str(tmp_path_factory.mktemp("dpo") / "adapter")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(train_args("dpo", tiny_base, pairs_export, out, *TOY, "--dataset-commit", "0123abcd",
                               "--votes", "32", steps=DPO_STEPS))
    assert code == 0
    return out, events(stdout.getvalue())


def test_dpo_loss_falls_and_accuracy_rises(dpo_run):
    out, records = dpo_run
    steps = [r for r in records if r["event"] == "step"]
    assert [r["event"] for r in records][0] == "start" and records[-1]["event"] == "done"
    assert len(steps) == DPO_STEPS and steps[-1]["eta_s"] == 0
    # Step 1: policy = reference (LoRA B starts at zero), so loss = log 2 and accuracy = chance.
    assert steps[0]["loss"] == pytest.approx(np.log(2), abs=1e-6) and steps[0]["accuracy"] == 0.5
    first, last = steps[:WINDOW], steps[-WINDOW:]
    assert mean(last, "loss") < mean(first, "loss") - 0.05
    assert mean(last, "loss") < np.log(2) - 0.1
    assert mean(last, "accuracy") > 0.7


def test_kto_objective_falls(tmp_path, tiny_base, kto_export, capsys):
    records = run(capsys, train_args("kto", tiny_base, kto_export, str(tmp_path / "out"), *TOY, steps=KTO_STEPS))
    steps = [r for r in records if r["event"] == "step"]
    # Step 1: reward 0 everywhere, so h = σ(0) and the loss is 1 − ½.
    assert steps[0]["loss"] == pytest.approx(0.5, abs=1e-6)
    first, last = steps[:WINDOW], steps[-WINDOW:]
    assert mean(last, "loss") < mean(first, "loss") - 0.03
    assert mean(last, "accuracy") > 0.55


def test_output_is_adapter_card_and_log(dpo_run):
    out, records = dpo_run
    assert sorted(os.listdir(out)) == ["README.md", "pytorch_lora_weights.safetensors", "training_log.jsonl"]
    assert not [name for name in os.listdir(os.path.dirname(out)) if name.startswith(".drover-train-")]
    with open(os.path.join(out, "training_log.jsonl")) as f:
        log = [json.loads(line) for line in f]
    assert [r["step"] for r in log] == list(range(1, DPO_STEPS + 1))
    assert {"step", "loss", "accuracy", "elapsed_s", "eta_s"} <= set(log[0])
    card = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    for needle in ("Diffusion-DPO", "0123abcd", "**Votes:** 32", "**Pairs used:** 16", "| beta | 500.0 |",
                   "| learning_rate | 0.003 |", "| rank | 4 |", "| step | loss | accuracy |", f"| {DPO_STEPS} |"):
        assert needle in card, needle


def images(pipe, seed: int = 7) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return pipe("an ox", num_inference_steps=2, guidance_scale=1.0, height=64, width=64, generator=generator,
                output_type="np").images


def test_adapter_reloads_changes_outputs_and_disables_bit_for_bit(dpo_run, tiny_base):
    from diffusers import StableDiffusionPipeline

    out, _ = dpo_run
    pipe = StableDiffusionPipeline.from_pretrained(tiny_base, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    base = images(pipe)
    pipe.load_lora_weights(out, adapter_name="drover")
    tuned = images(pipe)
    assert not np.array_equal(tuned, base)
    assert np.abs(tuned - base).max() > 1e-4
    pipe.disable_lora()
    assert np.array_equal(images(pipe), base)
    pipe.enable_lora()
    assert np.array_equal(images(pipe), tuned)


def adapter(path: str) -> Dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(os.path.join(path, "pytorch_lora_weights.safetensors"))


def test_same_seed_same_adapter(tmp_path, tiny_base, pairs_export, capsys):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        run(capsys, train_args("dpo", tiny_base, pairs_export, str(tmp_path / name), "--seed", seed,
                               "--learning-rate", "1e-3", steps=3))
    a, b, c = adapter(str(tmp_path / "a")), adapter(str(tmp_path / "b")), adapter(str(tmp_path / "c"))
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].numpy().tobytes() == b[key].numpy().tobytes(), key
    assert any(not torch.equal(a[key], c[key]) for key in a)


def test_bf16_with_accumulation_and_checkpointing_saves_an_fp32_adapter(tmp_path, tiny_base, kto_export, capsys):
    records = run(capsys, train_args("kto", tiny_base, kto_export, str(tmp_path / "out"), "--mixed-precision", "bf16",
                                     "--gradient-accumulation", "2", "--gradient-checkpointing", steps=2))
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2]
    tensors = adapter(str(tmp_path / "out"))
    assert tensors and all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in tensors.values())
