"""Which LoRA adapters to load, and which model a request names (no torch here).

An adapter is a directory holding ``pytorch_lora_weights.safetensors``, the file
``StableDiffusionPipeline.save_lora_weights(dir, unet_lora_layers=...)`` writes (the
convention of diffusers' LoRA training examples and of Drover's trainer).  Each
adapter is a model version: requests select it by name in the API's ``model`` field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from .api import ApiError

#: The file each adapter directory must hold (diffusers' ``LORA_WEIGHT_NAME_SAFE``).
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class AdapterConfigError(Exception):
    """The adapters given on the command line are not usable (bad name, missing file, ...)."""


def find_adapters(loras: Iterable[Tuple[str, str]], lora_dirs: Iterable[str],
                  base_name: str) -> Dict[str, str]:
    """Map adapter name to directory, from ``--lora NAME=DIR`` and ``--lora-dir DIR``.

    Every subdirectory of a ``--lora-dir`` is an adapter named after it.  Raises
    :class:`AdapterConfigError` for a bad or duplicate name, a name equal to the base
    model's, or a directory without ``pytorch_lora_weights.safetensors``.
    """
    found: List[Tuple[str, str]] = list(loras)
    for parent in lora_dirs:
        if not os.path.isdir(parent):
            raise AdapterConfigError(f"--lora-dir {parent!r} is not a directory")
        found.extend((entry.name, entry.path) for entry in sorted(os.scandir(parent),
                                                                   key=lambda e: e.name)
                     if entry.is_dir())
    adapters: Dict[str, str] = {}
    for name, directory in found:
        if not _NAME_RE.match(name):
            raise AdapterConfigError(
                f"adapter name {name!r}: use letters, digits and . _ : - (at most 128)")
        if name == base_name:
            raise AdapterConfigError(f"adapter name {name!r} is the base model's name")
        if name in adapters:
            raise AdapterConfigError(f"adapter name {name!r} is given twice")
        if not os.path.isfile(os.path.join(directory, LORA_WEIGHT_NAME)):
            raise AdapterConfigError(f"adapter {name!r}: {directory!r} has no {LORA_WEIGHT_NAME}")
        adapters[name] = directory
    return adapters


@dataclass(frozen=True)
class ModelCatalog:
    """The names a request may put in ``model``: the base model and the loaded adapters."""

    base_name: str
    adapters: Tuple[str, ...]
    created: int

    def resolve(self, model: Optional[str]) -> Optional[str]:
        """The adapter to use for ``model`` (``None``: the base model).

        No ``model`` means the base model.  An unknown name raises a 404
        :class:`ApiError` in OpenAI's shape (``code: model_not_found``).
        """
        if model is None or model == self.base_name:
            return None
        if model in self.adapters:
            return model
        raise ApiError(404, f"The model {model!r} does not exist; GET /v1/models lists the "
                       f"loaded ones", param="model", code="model_not_found")

    def listing(self) -> dict:
        """``GET /v1/models`` in OpenAI's list shape."""
        def entry(name: str, parent: Optional[str]) -> dict:
            return {"id": name, "object": "model", "created": self.created,
                    "owned_by": "drover", "parent": parent}

        return {"object": "list",
                "data": [entry(self.base_name, None)]
                + [entry(name, self.base_name) for name in self.adapters]}
