"""Loading the Stable Diffusion pipeline (and its LoRA adapters) and running one batch."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .batching import BatchKey, ImageSpec


class ModelLoadError(Exception):
    """The model could not be loaded (bad path, missing files, no CUDA, ...)."""


def resolve_device(requested: str) -> str:
    """Map ``auto|cpu|cuda`` to the device to use; raise :class:`ModelLoadError` if unusable."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was requested but CUDA is not available")
    if requested not in ("cpu", "cuda"):
        raise ModelLoadError(f"unknown device {requested!r}")
    return requested


@dataclass
class PipelineRunner:
    """One loaded pipeline on one device.  Only the batcher's worker thread calls it.

    ``adapters`` are the LoRA adapters loaded into ``pipe`` (by name).  Before each call
    the runner activates the batch's adapter, or disables LoRA for the base model; the
    time that takes is passed to ``on_switch`` (only when the adapter changes).
    """

    pipe: Any
    model: str
    device: str
    dtype_name: str
    adapters: Tuple[str, ...] = ()
    on_switch: Optional[Callable[[float], None]] = None
    _active: Optional[str] = field(default=None, init=False)

    def activate(self, adapter: Optional[str]) -> float:
        """Make ``adapter`` (``None``: the base model) the active one; return the seconds taken."""
        if adapter == self._active or not self.adapters:
            return 0.0
        started = time.perf_counter()
        if adapter is None:
            self.pipe.disable_lora()
        else:
            self.pipe.enable_lora()
            self.pipe.set_adapters([adapter], adapter_weights=[1.0])
        self._active = adapter
        elapsed = time.perf_counter() - started
        if self.on_switch is not None:
            self.on_switch(elapsed)
        return elapsed

    def run_batch(self, key: BatchKey, specs: Sequence[ImageSpec]) -> List[Tuple[Any, Optional[bool]]]:
        """Generate one image per spec with ONE pipeline call.

        Each image gets its own ``torch.Generator("cpu").manual_seed(seed)``, so an
        image depends on its seed and settings only, not on what it was batched with.
        Returns ``(PIL image, nsfw flag or None)`` per spec, in order.
        """
        import torch

        self.activate(key.adapter)
        generators = [torch.Generator("cpu").manual_seed(s.seed) for s in specs]
        with torch.inference_mode():
            out = self.pipe(
                prompt=[s.prompt for s in specs],
                negative_prompt=[s.negative_prompt for s in specs],
                width=key.width,
                height=key.height,
                num_inference_steps=key.num_inference_steps,
                guidance_scale=key.guidance_scale,
                generator=generators,
                num_images_per_prompt=1,
                output_type="pil",
            )
        images = list(out.images)
        nsfw = getattr(out, "nsfw_content_detected", None)
        flags: List[Optional[bool]] = (
            [None] * len(images) if nsfw is None else [bool(f) for f in nsfw])
        return list(zip(images, flags))


def load_pipeline(model: str, device: str = "auto", safety_checker: bool = False,
                  adapters: Optional[Dict[str, str]] = None) -> PipelineRunner:
    """Load a ``StableDiffusionPipeline`` once (fp16 on CUDA, fp32 on CPU), and its adapters.

    ``adapters`` maps names to LoRA directories, each loaded with
    ``load_lora_weights(dir, adapter_name=name)``.  Without ``safety_checker`` the
    checker is not loaded at all.  Any failure is re-raised as :class:`ModelLoadError`
    with a readable message.
    """
    try:
        import torch
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import logging as diffusers_logging

        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()  # keep the worker's stderr readable
        transformers_logging.disable_progress_bar()
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot import torch/diffusers: {exc}") from exc

    dev = resolve_device(device)
    dtype = torch.float16 if dev == "cuda" else torch.float32
    kwargs: dict = {"dtype": dtype}
    if not safety_checker:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = StableDiffusionPipeline.from_pretrained(model, **kwargs)
        if safety_checker and getattr(pipe, "safety_checker", None) is None:
            raise ModelLoadError(f"--safety-checker was given but {model!r} has no safety checker")
        pipe = pipe.to(dev)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load model {model!r}: {type(exc).__name__}: {exc}") from exc
    for name, directory in (adapters or {}).items():
        try:
            pipe.load_lora_weights(directory, adapter_name=name)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"cannot load LoRA adapter {name!r} from {directory!r}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    runner = PipelineRunner(pipe=pipe, model=model, device=dev,
                            dtype_name=str(dtype).replace("torch.", ""),
                            adapters=tuple(adapters or {}))
    if runner.adapters:
        # load_lora_weights leaves the last adapter active: start from the base model.
        pipe.disable_lora()
    return runner
