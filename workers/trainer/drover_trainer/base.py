"""Checking the base model before any weights are loaded: it must be a Stable Diffusion (1.x /
2.x) pipeline in diffusers' layout, on disk or on the Hub (resolved through the local cache,
so ``HF_HUB_OFFLINE=1`` works once it has been downloaded)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

#: The components the trainer loads, and the classes it knows how to train.
COMPONENTS = {
    "unet": ("UNet2DConditionModel",),
    "vae": ("AutoencoderKL",),
    "text_encoder": ("CLIPTextModel",),
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
    "scheduler": None,  # any scheduler: its config gives the noise schedule
}


class BaseModelError(ValueError):
    """The base model cannot be trained on; the message says why, in one line."""


@dataclass(frozen=True)
class BaseModel:
    """Where the base pipeline is: a local directory, or a Hub id (and revision)."""

    name: str
    path: str
    revision: Optional[str]
    pipeline_class: str


def _model_index(base: str, revision: Optional[str]) -> tuple[str, Dict[str, Any]]:
    if os.path.isdir(base):
        index = os.path.join(base, "model_index.json")
        if not os.path.isfile(index):
            raise BaseModelError(f"{base} is not a diffusers pipeline: it has no model_index.json")
        root = base
    elif os.path.exists(base):
        raise BaseModelError(f"{base} is a file, not a diffusers pipeline directory")
    else:
        try:
            from huggingface_hub import hf_hub_download

            index = hf_hub_download(base, "model_index.json", revision=revision)
        except Exception as error:  # network, unknown repo, bad id: all one answer
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BaseModelError(f"cannot read model_index.json of {base}: {first}") from None
        root = os.path.dirname(index)
    try:
        with open(index, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as error:
        raise BaseModelError(f"cannot read {index}: {error}") from None
    if not isinstance(config, dict):
        raise BaseModelError(f"{index} is not a JSON object")
    return root, config


def check_base(base: str, revision: Optional[str] = None) -> BaseModel:
    """Check that ``base`` is a Stable Diffusion pipeline the trainer can train.

    Raises:
        BaseModelError: no ``model_index.json``, or one that names another pipeline or lacks a
            component (an SDXL base is refused by name: it needs two text encoders).
    """
    root, config = _model_index(base, revision)
    pipeline_class = str(config.get("_class_name", ""))
    if "XL" in pipeline_class or "text_encoder_2" in config:
        raise BaseModelError(f"{base} is a {pipeline_class or 'pipeline'} (SDXL): only Stable Diffusion 1.x / 2.x bases are supported")
    for component, classes in COMPONENTS.items():
        entry = config.get(component)
        if not (isinstance(entry, list) and len(entry) == 2 and entry[1]):
            raise BaseModelError(f"{base} is a {pipeline_class or 'pipeline'}, not a Stable Diffusion pipeline: it has no {component}")
        if classes is not None and entry[1] not in classes:
            raise BaseModelError(f"{base} is not a Stable Diffusion pipeline: its {component} is a {entry[1]}, not a {' or '.join(classes)}")
        if os.path.isdir(base) and not os.path.isdir(os.path.join(root, component)):
            raise BaseModelError(f"{base} lists a {component} but has no {component}/ folder")
    return BaseModel(name=base, path=root if os.path.isdir(base) else base, revision=revision, pipeline_class=pipeline_class)
