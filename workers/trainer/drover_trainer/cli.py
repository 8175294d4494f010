"""``python -m drover_trainer``: check everything, then train (or, with ``--dry-run``, say what
would be used).

stdout carries one JSON object per line (``plan``, ``start``, ``step`` …, ``done``); anything
the libraries print goes to stderr. Bad input is one line on stderr and exit status 2, before
any model is loaded; a failure during training is one line and exit status 1, and leaves
nothing in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Union

from .base import BaseModelError, check_base
from .config import DEFAULT_BETA, DEFAULT_TARGET_MODULES, TrainConfig
from .export import ExportError, KTOExport, PairsExport, read_kto, read_pairs

PROG = "drover-trainer"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class BadInput(Exception):
    """One line that tells the user what to fix; exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        raise BadInput(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Diffusion-DPO / Diffusion-KTO LoRA training on a Drover export.")
    p.add_argument("--method", required=True, choices=["dpo", "kto"],
                   help="dpo: pairs.csv (drover export --format pairs); kto: per-image labels (--format diffusion-kto)")
    p.add_argument("--base", required=True, help="Stable Diffusion 1.x/2.x pipeline: a local diffusers directory or a Hub id")
    p.add_argument("--base-revision", help="Hub revision of --base")
    p.add_argument("--data", required=True, help="the export directory (images/ + pairs.csv or the KTO csv)")
    p.add_argument("--out", required=True, help="where the adapter goes; must be empty or absent")
    p.add_argument("--beta", type=float, help=f"β; default dpo {DEFAULT_BETA['dpo']:g} (diffusers' convention), kto {DEFAULT_BETA['kto']:g}")
    p.add_argument("--learning-rate", type=float, default=1e-5)
    p.add_argument("--lr-warmup-steps", type=int, default=0)
    p.add_argument("--steps", type=int, default=500, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="pairs (dpo) or images (kto) per micro-batch")
    p.add_argument("--gradient-accumulation", type=int, default=1)
    p.add_argument("--rank", type=int, default=8, help="LoRA rank")
    p.add_argument("--alpha", type=float, help="LoRA alpha (default: the rank)")
    p.add_argument("--target-modules", default=",".join(DEFAULT_TARGET_MODULES), help="comma-separated UNet module names")
    p.add_argument("--resolution", type=int, default=512)
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--min-examples", type=int, default=8,
                   help="refuse to train on fewer decided pairs (dpo) or labelled images (kto)")
    p.add_argument("--kto-intersections", default="win", choices=["win", "lose", "drop"],
                   help="images labelled `intersections` count as 👍 (the reference's default), 👎, or are dropped")
    p.add_argument("--kto-positive-ratio", type=float, default=0.5, help="share of 👍 images drawn per batch")
    p.add_argument("--kto-lambda-desirable", type=float, default=1.0)
    p.add_argument("--kto-lambda-undesirable", type=float, default=1.0)
    p.add_argument("--dataset-commit", help="the dataset commit the export was made at (for the model card)")
    p.add_argument("--votes", type=int, help="how many votes the export holds (for the model card)")
    p.add_argument("--versions", help="the model versions the export was limited to (for the model card)")
    p.add_argument("--dry-run", action="store_true", help="check everything and print the plan; train nothing")
    return p


def config_from(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(
        method=args.method, base=args.base, base_revision=args.base_revision, data=args.data, out=args.out,
        beta=args.beta, learning_rate=args.learning_rate, lr_warmup_steps=args.lr_warmup_steps, steps=args.steps,
        batch_size=args.batch_size, gradient_accumulation=args.gradient_accumulation, rank=args.rank, alpha=args.alpha,
        target_modules=[m.strip() for m in args.target_modules.split(",") if m.strip()], resolution=args.resolution,
        mixed_precision=args.mixed_precision, gradient_checkpointing=args.gradient_checkpointing,
        max_grad_norm=args.max_grad_norm, seed=args.seed, device=args.device, min_examples=args.min_examples,
        kto_intersections=args.kto_intersections, kto_positive_ratio=args.kto_positive_ratio,
        kto_lambda_desirable=args.kto_lambda_desirable, kto_lambda_undesirable=args.kto_lambda_undesirable,
        dataset_commit=args.dataset_commit, votes=args.votes, versions=args.versions,
    )
    problems = cfg.problems()
    if problems:
        raise BadInput("; ".join(problems))
    return cfg


def check_out(out: str) -> None:
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise BadInput(f"--out {out} is a file, not a directory")
        if os.listdir(out):
            raise BadInput(f"--out {out} is not empty: choose a new directory")


def read_data(cfg: TrainConfig) -> Union[PairsExport, KTOExport]:
    """The export, checked: not empty, enough examples, both labels for KTO."""
    try:
        data = read_pairs(cfg.data) if cfg.method == "dpo" else read_kto(cfg.data, cfg.kto_intersections)
    except ExportError as error:
        raise BadInput(str(error)) from None
    if isinstance(data, PairsExport):
        if data.rows == 0:
            raise BadInput(f"the export {cfg.data} is empty: pairs.csv has no pairs (each needs two rated images of one prompt)")
        if len(data.pairs) < cfg.min_examples:
            raise BadInput(f"too few pairs to train on: {len(data.pairs)} decided pair(s) ({data.ties} tie(s) skipped), "
                           f"at least {cfg.min_examples} needed (--min-examples)")
    else:
        if data.rows == 0:
            raise BadInput(f"the export {cfg.data} is empty: {data.file} has no labelled images")
        if len(data.images) < cfg.min_examples:
            raise BadInput(f"too few labelled images to train on: {len(data.images)}, at least {cfg.min_examples} "
                           "needed (--min-examples)")
        if data.desirable == 0 or data.undesirable == 0:
            raise BadInput(f"KTO needs both 👍 and 👎 images: the export has {data.desirable} 👍 and {data.undesirable} 👎")
    return data


def dataset_summary(data: Union[PairsExport, KTOExport]) -> Dict:
    if isinstance(data, PairsExport):
        return {"Export": "pairs.csv", "Pairs used": len(data.pairs), "Ties skipped": data.ties,
                "Images": len(data.images)}
    return {"Export": data.file, "Images used": len(data.images), "👍 images": data.desirable,
            "👎 images": data.undesirable, "Skipped (intersections)": data.skipped}


def emitter(stream):
    def emit(record: Dict) -> None:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        stream.flush()
    return emit


def run(cfg: TrainConfig, data: Union[PairsExport, KTOExport], base_path: str, emit) -> Dict:
    """Train into a temporary sibling of ``--out``, then move it into place."""
    from .card import model_card
    from .train import ADAPTER_FILE, steps_per_second, train

    parent = os.path.dirname(os.path.abspath(cfg.out))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".drover-train-", dir=parent)
    try:
        result = train(cfg, data, base_path, work, emit)
        with open(os.path.join(work, "training_log.jsonl"), "w", encoding="utf-8") as f:
            for record in result.log:
                f.write(json.dumps({k: v for k, v in record.items() if k != "event"}) + "\n")
        with open(os.path.join(work, "README.md"), "w", encoding="utf-8") as f:
            f.write(model_card(cfg, dataset_summary(data), result.log, result.device, result.seconds))
        if os.path.isdir(cfg.out):
            os.rmdir(cfg.out)  # empty, checked before training
        os.rename(work, cfg.out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    last = result.log[-1]
    return {"event": "done", "out": cfg.out, "adapter": os.path.join(cfg.out, ADAPTER_FILE), "steps": last["step"],
            "loss": last["loss"], "accuracy": last["accuracy"], "seconds": round(result.seconds, 3),
            "steps_per_s": steps_per_second(result.log), "peak_memory_gib": result.peak_memory_gib}


def main(argv: Optional[List[str]] = None) -> int:
    stdout = sys.stdout
    try:
        args = build_parser().parse_args(argv)
        cfg = config_from(args)
        check_out(cfg.out)
        data = read_data(cfg)
        try:
            base = check_base(cfg.base, cfg.base_revision)
        except BaseModelError as error:
            raise BadInput(str(error)) from None
        from .train import DeviceError, resolve_device

        try:
            device = resolve_device(cfg)
        except DeviceError as error:
            raise BadInput(str(error)) from None
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    emit = emitter(stdout)
    if args.dry_run:
        emit({"event": "plan", "method": cfg.method, "base": cfg.base, "base_class": base.pipeline_class,
              "data": cfg.data, "out": cfg.out, "device": device, "dataset": dataset_summary(data),
              "hyperparameters": cfg.hyperparameters()})
        return 0
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON lines
            done = run(cfg, data, base.path, emit)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing written to {cfg.out}", file=sys.stderr)
        return 130
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"{PROG}: error: training failed: {type(error).__name__}: {first}", file=sys.stderr)
        return EXIT_FAILED
    emit(done)
    return 0
