#!/usr/bin/env python3
"""Training benchmark for the Drover trainer (``workers/trainer``).  Nothing is downloaded.

Runs ``python -m drover_trainer`` (the command ``drover train`` runs) on a synthetic export
and reads its JSON progress lines: optimizer steps/s in the steady state (the first steps,
which include CUDA warm-up, are left out), pairs (or images) per second, peak GPU memory
(``torch.cuda.max_memory_allocated`` in the trainer), the start-up (loading, VAE and text
encoding of the export), and the projected time of one pass over 1,000 pairs.

- With a GPU (the default when CUDA is available): Stable Diffusion 1.5 at 512×512, LoRA
  rank 8 on the attention projections, fp16 mixed precision, DPO at batch 1 and 4 pairs and
  KTO at batch 8 images. The base is ``--base DIR`` if given (a local SD 1.5 copy), else the
  SD 1.5 architecture with random weights (configs from ``benchmarks/generation/bench.py``):
  speed does not depend on the weights' values.
- Without a GPU: the tiny random pipeline of the tests at 64×64 on the CPU, and the report
  says so: those figures say nothing about SD 1.5.

    python benchmarks/training/bench.py            # SD 1.5 on CUDA if present, else CPU tiny
    python benchmarks/training/bench.py --tiny     # CPU tiny pipeline, about 2 minutes
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORKER_ROOT = os.path.join(REPO, "workers", "diffusers")
TRAINER_ROOT = os.path.join(REPO, "workers", "trainer")
sys.path[:0] = [WORKER_ROOT, TRAINER_ROOT]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PAIRS_PROJECTED = 1000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_base(mode: str, out_dir: str) -> str:
    """Save a random pipeline of ``mode`` (``tiny`` or ``full`` = SD 1.5 architecture)."""
    from drover_worker import synthetic

    if mode == "tiny":
        return synthetic.save_tiny_pipeline(out_dir, seed=0)
    spec = importlib.util.spec_from_file_location("generation_bench", os.path.join(REPO, "benchmarks", "generation", "bench.py"))
    generation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generation)
    pipe = generation.build("full", out_dir + "-work")
    pipe.save_pretrained(out_dir)
    return out_dir


def write_export(root: str, pairs: int, size: int, seed: int = 0) -> str:
    """A ``drover export`` directory holding both ``pairs.csv`` and ``diffusion-kto.csv``:
    ``pairs`` prompts, each with one 👍 and one 👎 image (random noise PNGs, ``size``²)."""
    import csv
    import hashlib

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"))
    pair_rows, kto_rows = [], []
    for i in range(pairs):
        paths = []
        for _ in range(2):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
            data = buffer.getvalue()
            path = f"images/{hashlib.sha256(data).hexdigest()[:16]}.png"
            with open(os.path.join(root, path), "wb") as f:
                f.write(data)
            paths.append(path)
        prompt = f"prompt {i}"
        first, second = sorted(paths)
        label0 = "1.0" if first == paths[0] else "0.0"
        pair_rows.append([prompt, first, second, label0, "0.0" if label0 == "1.0" else "1.0", "0-1", "0-1"])
        kto_rows += [[paths[0], prompt, "exclusive_win"], [paths[1], prompt, "exclusive_lose"]]
    for name, header, rows in (("pairs.csv", ["caption", "jpg_0", "jpg_1", "label_0", "label_1", "model_0", "model_1"], pair_rows),
                               ("diffusion-kto.csv", ["file_path", "caption", "label"], kto_rows)):
        with open(os.path.join(root, name), "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return root


def run_trainer(method: str, base: str, data: str, out: str, device: str, resolution: int, batch: int,
                steps: int, precision: str, threads: Optional[int], timeout: float) -> Dict:
    """One ``python -m drover_trainer`` run; its start, steps and done records."""
    cmd = [sys.executable, "-m", "drover_trainer", "--method", method, "--base", base, "--data", data, "--out", out,
           "--device", device, "--resolution", str(resolution), "--batch-size", str(batch), "--steps", str(steps),
           "--mixed-precision", precision, "--rank", "8", "--min-examples", "1"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TRAINER_ROOT, WORKER_ROOT, os.environ.get("PYTHONPATH", "")]))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    log("$ " + " ".join(cmd))
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"trainer exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    by = {"start": None, "done": None}
    steps_log = []
    for record in records:
        if record["event"] == "step":
            steps_log.append(record)
        else:
            by[record["event"]] = record
    return {"start": by["start"], "done": by["done"], "steps": steps_log, "wall_s": wall}


def summarise(method: str, batch: int, run: Dict) -> Dict:
    steps = run["steps"]
    skip = min(5, len(steps) // 4)
    a, b = steps[skip - 1] if skip else {"step": 0, "elapsed_s": 0.0}, steps[-1]
    rate = (b["step"] - a["step"]) / (b["elapsed_s"] - a["elapsed_s"])
    examples_per_s = rate * batch
    # One pass over 1,000 pairs: DPO uses each pair once; KTO sees 2,000 images (one 👍 and one
    # 👎 per pair). Plus encoding the 2,000 images once, at the rate measured here.
    examples = PAIRS_PROJECTED if method == "dpo" else 2 * PAIRS_PROJECTED
    encode_per_image = run["start"]["encode_s"] / max(run["start"]["images"], 1)
    projected = examples / examples_per_s + 2 * PAIRS_PROJECTED * encode_per_image
    return {"method": method, "batch": batch, "steps": b["step"] - a["step"], "steps_per_s": rate, "examples_per_s": examples_per_s,
            "peak_memory_gib": run["done"].get("peak_memory_gib"), "load_s": run["start"]["load_s"],
            "encode_s_per_image": encode_per_image, "projected_1000_pairs_s": projected, "wall_s": run["wall_s"]}


def markdown(meta: Dict, rows: List[Dict]) -> str:
    lines = [f"Mode: **{meta['mode']}** — {meta['description']}", "",
             f"device {meta['device']}; {meta['resolution']}x{meta['resolution']}; precision {meta['precision']}; "
             f"LoRA rank 8 on to_q/to_k/to_v/to_out.0; torch {meta['torch']}, diffusers {meta['diffusers']}, "
             f"peft {meta['peft']}; {meta['machine']}", "",
             "| method | batch | steps timed | steps/s | pairs or images/s | peak GPU memory (GiB) | load (s) | "
             "encode (ms/image) | 1,000 pairs, one pass (min) | run wall (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        unit = "pairs" if r["method"] == "dpo" else "images"
        peak = f"{r['peak_memory_gib']:.2f}" if r["peak_memory_gib"] is not None else "n/a (CPU)"
        lines.append(f"| {r['method']} | {r['batch']} {unit} | {r['steps']} | {r['steps_per_s']:.2f} | "
                     f"{r['examples_per_s']:.2f} | {peak} | {r['load_s']:.1f} | {1000 * r['encode_s_per_image']:.1f} | "
                     f"{r['projected_1000_pairs_s'] / 60:.1f} | {r['wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--tiny", action="store_true", help="tiny random pipeline on the CPU")
    mode.add_argument("--full", action="store_true", help="SD 1.5 on CUDA (the default when CUDA is available)")
    p.add_argument("--base", help="a local SD 1.5 diffusers directory to use instead of random SD 1.5-shaped weights")
    p.add_argument("--steps", type=int, help="optimizer steps per run (default 40 full, 30 tiny)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="--full --device cpu --resolution 64 --steps 3 checks the SD 1.5 path without a GPU (slow, no figures worth keeping)")
    p.add_argument("--resolution", type=int, help="default 512 full, 64 tiny")
    p.add_argument("--cpu-threads", type=int, default=1, help="torch threads on the CPU (default 1: see README)")
    p.add_argument("--json", help="also write the raw numbers to this file")
    args = p.parse_args(argv)

    import torch

    cuda = torch.cuda.is_available()
    mode = "tiny" if args.tiny or (not args.full and not cuda) else "full"
    device = args.device if args.device != "auto" else ("cuda" if mode == "full" else "cpu")
    if device == "cuda" and not cuda:
        p.error("CUDA asked for, but torch sees no CUDA device")
    resolution = args.resolution or (512 if mode == "full" else 64)
    precision = "fp16" if device == "cuda" else "no"
    steps = args.steps or (40 if mode == "full" else 30)
    configs = [("dpo", 1), ("dpo", 4), ("kto", 8)]
    if device == "cpu":
        log("No GPU: these are CPU figures" + (" of the tiny pipeline (1.4 M-parameter random SD at 64x64)"
            if mode == "tiny" else f" of SD 1.5 at {resolution}x{resolution} (a path check)")
            + ", not SD 1.5 on a GPU; run on a CUDA machine for those.")

    work = tempfile.mkdtemp(prefix="drover-train-bench-")
    try:
        started = time.monotonic()
        if args.base:
            base = args.base
        else:
            log(f"building the {mode} random pipeline ...")
            base = build_base(mode, os.path.join(work, "base"))
        pairs = max(batch for _, batch in configs) * 2
        data = write_export(os.path.join(work, "export"), pairs=pairs, size=resolution)
        log(f"base and export ready in {time.monotonic() - started:.0f} s")
        rows = []
        for i, (method, batch) in enumerate(configs):
            run = run_trainer(method, base, data, os.path.join(work, f"out-{i}"), device, resolution, batch, steps,
                              precision, args.cpu_threads if device == "cpu" else None, timeout=300)
            rows.append(summarise(method, batch, run))
            log(json.dumps(rows[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import diffusers
    import peft

    meta = {
        "mode": mode,
        "description": ("Stable Diffusion 1.5" + (f" from {args.base}" if args.base else " architecture, random weights")
                        + ("" if device == "cuda" else " — NO GPU: on the CPU"))
        if mode == "full" else "NO GPU: tiny random pipeline on the CPU (not SD 1.5)",
        "device": torch.cuda.get_device_name(0) if device == "cuda" else f"cpu ({args.cpu_threads} torch thread(s))",
        "resolution": resolution, "precision": precision, "torch": torch.__version__, "diffusers": diffusers.__version__,
        "peft": peft.__version__, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    print(markdown(meta, rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
