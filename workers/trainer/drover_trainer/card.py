"""The model card (``README.md`` beside the adapter): what was trained, on what, and how it went."""

from __future__ import annotations

import json
from typing import Dict, List

from .config import TrainConfig

METHODS = {
    "dpo": "Diffusion-DPO (Wallace et al. 2023, arXiv:2311.12908)",
    "kto": "Diffusion-KTO (Li et al. 2024, arXiv:2404.04465)",
}
CURVE_ROWS = 20


def curve_rows(log: List[Dict], rows: int = CURVE_ROWS) -> List[Dict]:
    """At most ``rows`` evenly spaced log records, the first and the last always included."""
    if len(log) <= rows:
        return list(log)
    picks = sorted({round(i * (len(log) - 1) / (rows - 1)) for i in range(rows)})
    return [log[i] for i in picks]


def model_card(cfg: TrainConfig, dataset: Dict, log: List[Dict], device: str, seconds: float) -> str:
    """The card's Markdown, with Hugging Face front matter."""
    base = cfg.base + (f" @ {cfg.base_revision}" if cfg.base_revision else "")
    lines = [
        "---",
        f"base_model: {json.dumps(cfg.base)}",
        "library_name: diffusers",
        "tags:",
        "- lora",
        "- stable-diffusion",
        f"- diffusion-{cfg.method}",
        "- drover",
        "---",
        "",
        f"# LoRA adapter: {cfg.method.upper()} on Drover votes",
        "",
        f"- **Base model:** `{base}`",
        f"- **Method:** {METHODS[cfg.method]}; reference model = the base (adapter disabled)",
        f"- **Dataset commit:** {cfg.dataset_commit or 'not given'}"
        + (f" (model versions {cfg.versions})" if cfg.versions else ""),
    ]
    if cfg.votes is not None:
        lines.append(f"- **Votes:** {cfg.votes}")
    for key, value in dataset.items():
        lines.append(f"- **{key}:** {value}")
    lines += [
        f"- **Trained on:** {device}, {seconds:.1f} s",
        "",
        "Load it with diffusers:",
        "",
        "```python",
        "pipe = StableDiffusionPipeline.from_pretrained(BASE)",
        "pipe.load_lora_weights(ADAPTER_DIR, adapter_name=\"drover\")",
        "```",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
    ]
    for key, value in cfg.hyperparameters().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"| {key} | {shown} |")
    lines += [
        "",
        "## Training curve",
        "",
        "Loss and implicit reward accuracy (the share of examples where the policy beats the "
        "reference; 0.5 is chance) per optimizer step; every step is in `training_log.jsonl`.",
        "",
        "| step | loss | accuracy | elapsed (s) |",
        "|---:|---:|---:|---:|",
    ]
    for record in curve_rows(log):
        lines.append(f"| {record['step']} | {record['loss']:.4f} | {record['accuracy']:.3f} | {record['elapsed_s']:.1f} |")
    return "\n".join(lines) + "\n"
