"""Shared fixtures: a tiny random Stable Diffusion pipeline on disk (the worker's builder) and
export directories in the layout `drover export` writes, with a toy preference that can be
learned: 👍 images are reddish, 👎 images bluish."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
from typing import Iterable, List, Optional, Tuple

import numpy as np
import pytest

TRAINER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER_ROOT = os.path.join(os.path.dirname(TRAINER_ROOT), "diffusers")
for root in (TRAINER_ROOT, WORKER_ROOT):
    if root not in sys.path:
        sys.path.insert(0, root)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

# One intra-op thread: the machine is small and shared, and the tiny models gain nothing.
torch.set_num_threads(1)

SIZE = 64
PROMPTS = ["an ox", "a cow", "a yak", "a bull"]


def png(color: Tuple[int, int, int], seed: int) -> bytes:
    """A SIZE×SIZE PNG of ``color`` with a little seeded noise (so every image is distinct)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color, dtype=np.int16) + rng.integers(-20, 21, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image(root: str, data: bytes) -> str:
    """Write ``data`` as Drover does: ``images/<first 16 hex of SHA-256>.png``; returns the path."""
    path = f"images/{hashlib.sha256(data).hexdigest()[:16]}.png"
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    with open(os.path.join(root, path), "wb") as f:
        f.write(data)
    return path


def write_csv(path: str, header: List[str], rows: Iterable[List[str]]) -> None:
    """CSV as Drover's ``CSV.document`` writes it: LF line ends, quotes only where needed."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


RED, BLUE = (220, 40, 40), (40, 40, 220)


def toy_images(root: str, per_prompt: int) -> List[Tuple[str, str, bool]]:
    """``per_prompt`` red (👍) and ``per_prompt`` blue (👎) images per prompt: (prompt, path, liked)."""
    out = []
    seed = 0
    for prompt in PROMPTS:
        for _ in range(per_prompt):
            for color, liked in ((RED, True), (BLUE, False)):
                seed += 1
                out.append((prompt, write_image(root, png(color, seed)), liked))
    return out


def write_pairs_export(root: str, per_prompt: int = 2, ties: int = 0) -> str:
    """A ``drover export --format pairs`` directory: every red-vs-blue pair of a prompt, the red
    one winning (``jpg_0`` is the smaller id, as Drover writes it), plus ``ties`` tied pairs."""
    images = toy_images(root, per_prompt)
    rows = []
    for prompt in PROMPTS:
        liked = [p for q, p, good in images if q == prompt and good]
        disliked = [p for q, p, good in images if q == prompt and not good]
        for red in liked:
            for blue in disliked:
                first, second = sorted([red, blue])
                label0 = "1.0" if first == red else "0.0"
                rows.append([prompt, first, second, label0, "0.0" if label0 == "1.0" else "1.0", "0-1", "0-1"])
    for i in range(ties):
        a, b = sorted([images[2 * i][1], images[2 * i + 2][1]])
        rows.append([PROMPTS[0], a, b, "0.5", "0.5", "0-1", "0-1"])
    write_csv(os.path.join(root, "pairs.csv"), ["caption", "jpg_0", "jpg_1", "label_0", "label_1", "model_0", "model_1"], rows)
    return root


def write_kto_export(root: str, per_prompt: int = 2, reference_format: bool = True) -> str:
    """A Diffusion-KTO export: the reference dataloader's ``train_processed_v3.csv``
    (``file_name,caption,split``) or Drover's current ``diffusion-kto.csv`` (``file_path,caption,label``)."""
    images = toy_images(root, per_prompt)
    rows = [[path, prompt, "exclusive_win" if liked else "exclusive_lose"] for prompt, path, liked in images]
    if reference_format:
        write_csv(os.path.join(root, "train_processed_v3.csv"), ["file_name", "caption", "split"], rows)
    else:
        write_csv(os.path.join(root, "diffusion-kto.csv"), ["file_path", "caption", "label"], rows)
    return root


#: The tiny VAE's latent means have a standard deviation of about 0.24 on the toy images.
TOY_LATENT_STD = 0.24


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> str:
    """The worker's tiny random SD pipeline (64×64, VAE scale 8), saved with ``save_pretrained``,
    its VAE calibrated the way a trained one is: a near-deterministic encoder (log-variance
    −30, where a random one draws latents with σ ≈ 1 that bury the image) and a scaling
    factor that makes latents large enough (σ ≈ 3) for the colour to show through the noise
    at most timesteps. Without that, no preference is learnable on a random VAE."""
    from drover_worker.synthetic import build_tiny_pipeline

    root = tmp_path_factory.mktemp("base")
    pipe = build_tiny_pipeline(str(root / "work"), seed=0)
    channels = pipe.vae.config.latent_channels
    with torch.no_grad():
        pipe.vae.quant_conv.weight[channels:] = 0
        pipe.vae.quant_conv.bias[channels:] = -30.0
    pipe.vae.register_to_config(scaling_factor=3.0 / TOY_LATENT_STD)
    pipe.save_pretrained(str(root / "tiny-sd"))
    return str(root / "tiny-sd")


@pytest.fixture(scope="session")
def pairs_export(tmp_path_factory) -> str:
    return write_pairs_export(str(tmp_path_factory.mktemp("export") / "pairs"))


@pytest.fixture(scope="session")
def kto_export(tmp_path_factory) -> str:
    return write_kto_export(str(tmp_path_factory.mktemp("export") / "kto"))


def train_args(method: str, base: str, data: str, out: str, *extra: str, steps: int = 3) -> List[str]:
    """The CLI arguments of a small CPU run."""
    return ["--method", method, "--base", base, "--data", data, "--out", out, "--device", "cpu",
            "--resolution", str(SIZE), "--steps", str(steps), "--batch-size", "4", "--rank", "4", *extra]


def events(stdout: str, kind: Optional[str] = None) -> List[dict]:
    """The JSON lines of a run's stdout (all must parse), optionally only one kind."""
    import json

    records = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [r for r in records if kind is None or r["event"] == kind]
