"""The two objectives, as pure functions of per-image denoising errors.

Each error is ``‖ε − ε̂‖²`` averaged over the latent's elements (``F.mse_loss(…, reduction=
"none").mean(dims)``, as in both reference codebases); ``policy`` is the UNet with the LoRA
adapter, ``reference`` the same UNet with it disabled.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Objective:
    """A batch's loss (to minimise) and its implicit reward accuracy (for the log)."""

    loss: torch.Tensor
    accuracy: torch.Tensor


def share_positive(values: torch.Tensor) -> torch.Tensor:
    """The share of ``values`` above 0, ties counted half (so an untrained adapter scores 0.5)."""
    values = values.detach().float()
    return ((values > 0).float().mean() + 0.5 * (values == 0).float().mean())


def dpo(policy_w: torch.Tensor, policy_l: torch.Tensor, reference_w: torch.Tensor,
        reference_l: torch.Tensor, beta: float) -> Objective:
    """Diffusion-DPO (Wallace et al. 2023, eq. 14), diffusers' convention for β:

    ``loss = −log σ(β · [(ref_w − ref_l) − (policy_w − policy_l)])``

    which is ``−log σ(−β·[(‖ε−ε_θ(x_w)‖² − ‖ε−ε_ref(x_w)‖²) − (‖ε−ε_θ(x_l)‖² − ‖ε−ε_ref(x_l)‖²)])``.
    The SalesforceAIResearch code multiplies by ``0.5 · beta_dpo`` instead: its β = 5000 is this
    β = 2500. The accuracy is the share of pairs whose policy margin beats the reference's.
    """
    logits = (reference_w - reference_l) - (policy_w - policy_l)
    return Objective(loss=-F.logsigmoid(beta * logits).mean(), accuracy=share_positive(logits))


def kto(policy: torch.Tensor, reference: torch.Tensor, desirable: torch.Tensor, beta: float,
        lambda_desirable: float = 1.0, lambda_undesirable: float = 1.0) -> Objective:
    """Diffusion-KTO (Li et al. 2024) as its reference code computes it with the defaults
    (``--loss kto --halo sigmoid --bce_offset none``):

    ``g = ref − policy`` (the implicit reward), ``z = max(0, mean(g))`` (the batch's KL
    estimate, no gradient), ``h = σ(±β · (g − z))`` (+ for desirable, − for undesirable) and
    ``loss = mean(λ_y · (1 − h))``. The accuracy is the share of images with ``±(g − z) > 0``.
    """
    reward = reference - policy
    kl = reward.detach().mean().clamp(min=0)
    sign = desirable.float() * 2 - 1
    scaled = sign * beta * (reward - kl)
    weight = torch.where(desirable, torch.tensor(lambda_desirable, dtype=reward.dtype, device=reward.device),
                         torch.tensor(lambda_undesirable, dtype=reward.dtype, device=reward.device))
    return Objective(loss=(weight * (1 - torch.sigmoid(scaled))).mean(), accuracy=share_positive(scaled))
