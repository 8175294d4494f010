"""The run's settings, checked before anything is loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

#: Defaults per method. β: diffusers' ``train_diffusion_dpo.py`` (``--beta_dpo`` 2500) and
#: diffusion-kto's ``train_kto_sd_v1.5.py`` (``--beta_dpo`` 1000). Learning rate: diffusers'
#: SD LoRA DPO command (``--learning_rate=1e-5 --rank=8``), used for both.
DEFAULT_BETA = {"dpo": 2500.0, "kto": 1000.0}
DEFAULT_TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]


@dataclass
class TrainConfig:
    """Everything that decides the adapter; written into the model card."""

    method: str
    base: str
    data: str
    out: str
    base_revision: Optional[str] = None
    beta: Optional[float] = None
    learning_rate: float = 1e-5
    lr_warmup_steps: int = 0
    steps: int = 500
    batch_size: int = 4
    gradient_accumulation: int = 1
    rank: int = 8
    alpha: Optional[float] = None
    target_modules: List[str] = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    resolution: int = 512
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    max_grad_norm: float = 1.0
    seed: int = 0
    device: str = "auto"
    min_examples: int = 8
    kto_intersections: str = "win"
    kto_positive_ratio: float = 0.5
    kto_lambda_desirable: float = 1.0
    kto_lambda_undesirable: float = 1.0
    # Provenance for the model card (given by `drover train`).
    dataset_commit: Optional[str] = None
    votes: Optional[int] = None
    versions: Optional[str] = None

    def __post_init__(self) -> None:
        if self.beta is None:
            self.beta = DEFAULT_BETA[self.method]
        if self.alpha is None:
            self.alpha = float(self.rank)

    def hyperparameters(self) -> Dict[str, Any]:
        """The settings that shape training (no paths, no provenance)."""
        skip = {"base", "data", "out", "base_revision", "dataset_commit", "votes", "versions", "device", "min_examples"}
        if self.method != "kto":
            skip |= {k for k in asdict(self) if k.startswith("kto_")}
        return {k: v for k, v in asdict(self).items() if k not in skip}

    def problems(self) -> List[str]:
        """Settings that cannot work, each as one sentence."""
        out = []
        if self.method not in DEFAULT_BETA:
            out.append(f"--method must be dpo or kto, not {self.method!r}")
        for name in ("steps", "batch_size", "gradient_accumulation", "rank", "min_examples"):
            if getattr(self, name) < 1:
                out.append(f"--{name.replace('_', '-')} must be at least 1")
        if self.resolution < 8 or self.resolution % 8:
            out.append("--resolution must be a positive multiple of 8")
        if not (self.learning_rate > 0):
            out.append("--learning-rate must be positive")
        if not (self.beta and self.beta > 0):
            out.append("--beta must be positive")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            out.append("--mixed-precision must be no, fp16 or bf16")
        if not 0 < self.kto_positive_ratio < 1:
            out.append("--kto-positive-ratio must be between 0 and 1")
        if not self.target_modules:
            out.append("--target-modules must name at least one module")
        return out
