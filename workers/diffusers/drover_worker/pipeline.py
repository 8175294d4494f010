"""Loading the Stable Diffusion pipeline and running one batch on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

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
    """One loaded pipeline on one device.  Only the batcher's worker thread calls it."""

    pipe: Any
    model: str
    device: str
    dtype_name: str

    def run_batch(self, key: BatchKey, specs: Sequence[ImageSpec]) -> List[Tuple[Any, Optional[bool]]]:
        """Generate one image per spec with ONE pipeline call.

        Each image gets its own ``torch.Generator("cpu").manual_seed(seed)``, so an
        image depends on its seed and settings only, not on what it was batched with.
        Returns ``(PIL image, nsfw flag or None)`` per spec, in order.
        """
        import torch

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


def load_pipeline(model: str, device: str = "auto", safety_checker: bool = False) -> PipelineRunner:
    """Load a ``StableDiffusionPipeline`` once (fp16 on CUDA, fp32 on CPU).

    Without ``safety_checker`` the checker is not loaded at all.  Any failure is
    re-raised as :class:`ModelLoadError` with a readable message.
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
    pipe.set_progress_bar_config(disable=True)
    return PipelineRunner(pipe=pipe, model=model, device=dev,
                          dtype_name=str(dtype).replace("torch.", ""))
