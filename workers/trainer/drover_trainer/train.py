"""The training loop: encode, noise, predict (policy and reference), loss, step.

The reference model is the policy with its LoRA adapter disabled (``unet.disable_adapters()``,
as diffusers' ``train_diffusion_dpo.py`` does), so there is one UNet in memory. Images are
encoded by the VAE once, up front (the latent distribution's mean and standard deviation);
each step draws a latent from it, as ``latent_dist.sample()`` would. Every random draw (data
order, latent sample, noise, timestep) comes from one CPU generator seeded with ``--seed``, so
on the CPU two runs with the same seed write byte-identical adapters.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import losses
from .config import TrainConfig
from .export import KTOExport, PairsExport

ADAPTER_FILE = "pytorch_lora_weights.safetensors"
Emit = Callable[[Dict], None]


class DeviceError(ValueError):
    """The requested device or precision is not available here."""


def resolve_device(cfg: TrainConfig) -> str:
    """``cuda`` or ``cpu`` for ``--device auto|cpu|cuda``; fp16 needs a GPU.

    Raises:
        DeviceError: CUDA asked for but absent, or fp16 on the CPU.
    """
    if cfg.device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif cfg.device in ("cpu", "cuda"):
        device = cfg.device
    else:
        raise DeviceError(f"--device must be auto, cpu or cuda, not {cfg.device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda, but torch sees no CUDA device")
    if device == "cpu" and cfg.mixed_precision == "fp16":
        raise DeviceError("--mixed-precision fp16 needs a CUDA device (use bf16 or no on the CPU)")
    return device


@dataclass
class TrainResult:
    """What a run produced, besides the adapter file."""

    log: List[Dict]
    examples: int
    device: str
    seconds: float
    #: torch.cuda.max_memory_allocated over the run, on CUDA.
    peak_memory_gib: Optional[float] = None


def load_pixels(path: str, resolution: int) -> torch.Tensor:
    """An image as a (3, R, R) tensor in [-1, 1]: shorter side resized to R (bilinear), centre crop."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = resolution / min(image.size)
        size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class LatentBank:
    """Each image's latent distribution (mean, std), encoded once by the VAE."""

    def __init__(self, vae, root: str, paths: Sequence[str], resolution: int, device: str, batch: int = 8):
        self.index = {path: i for i, path in enumerate(paths)}
        self.scaling = float(vae.config.scaling_factor)
        means, stds = [], []
        with torch.no_grad():
            for start in range(0, len(paths), batch):
                pixels = torch.stack([load_pixels(os.path.join(root, p), resolution) for p in paths[start:start + batch]])
                dist = vae.encode(pixels.to(device, dtype=vae.dtype)).latent_dist
                means.append(dist.mean.float().cpu())
                stds.append(dist.std.float().cpu())
        self.mean = torch.cat(means)
        self.std = torch.cat(stds)

    def sample(self, paths: Sequence[str], generator: torch.Generator) -> torch.Tensor:
        rows = torch.tensor([self.index[p] for p in paths])
        mean, std = self.mean[rows], self.std[rows]
        return (mean + std * torch.randn(mean.shape, generator=generator)) * self.scaling


class PromptBank:
    """Each caption's text-encoder hidden states, encoded once."""

    def __init__(self, tokenizer, text_encoder, captions: Sequence[str], device: str, batch: int = 32):
        self.index = {caption: i for i, caption in enumerate(captions)}
        states = []
        with torch.no_grad():
            for start in range(0, len(captions), batch):
                ids = tokenizer(list(captions[start:start + batch]), padding="max_length", truncation=True,
                                max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
                states.append(text_encoder(ids.to(device))[0].float().cpu())
        self.states = torch.cat(states)

    def get(self, captions: Sequence[str]) -> torch.Tensor:
        return self.states[torch.tensor([self.index[c] for c in captions])]


class Order:
    """Indices in shuffled epochs, batch after batch, from the run's generator."""

    def __init__(self, size: int, generator: torch.Generator):
        self.size, self.generator, self.queue = size, generator, []

    def take(self, count: int) -> List[int]:
        out = []
        while len(out) < count:
            if not self.queue:
                self.queue = torch.randperm(self.size, generator=self.generator).tolist()
            out.append(self.queue.pop(0))
        return out


def train(cfg: TrainConfig, data: Union[PairsExport, KTOExport], base_path: str, out_dir: str,
          emit: Emit) -> TrainResult:
    """Train a LoRA adapter on ``data`` and save it as ``out_dir/pytorch_lora_weights.safetensors``.

    ``emit`` receives one dict per event: ``start`` (after loading and encoding), then one
    ``step`` per optimizer step.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.optimization import get_scheduler
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from transformers import CLIPTextModel, CLIPTokenizer

    started = time.monotonic()
    device = resolve_device(cfg)
    # accelerate keeps one process-wide state, fixed by the first Accelerator; train() may run
    # more than once in a process (tests, notebooks) with other settings, so start afresh.
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.gradient_accumulation,
                              cpu=device == "cpu")
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.mixed_precision, torch.float32)
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    # Load: the VAE and the text encoder stay in fp32 (they run once, to fill the banks).
    revision = dict(revision=cfg.base_revision)
    tokenizer = CLIPTokenizer.from_pretrained(base_path, subfolder="tokenizer", **revision)
    text_encoder = CLIPTextModel.from_pretrained(base_path, subfolder="text_encoder", **revision).to(device)
    vae = AutoencoderKL.from_pretrained(base_path, subfolder="vae", **revision).to(device)
    unet = UNet2DConditionModel.from_pretrained(base_path, subfolder="unet", **revision)
    noise_scheduler = DDPMScheduler.from_pretrained(base_path, subfolder="scheduler", **revision)
    for model in (text_encoder, vae, unet):
        model.requires_grad_(False)

    # Encode every image and caption once.
    loaded = time.monotonic()
    if isinstance(data, PairsExport):
        examples: list = data.pairs
        paths = data.images
        captions = list(dict.fromkeys(p.caption for p in data.pairs))
    else:
        examples = data.images
        paths = list(dict.fromkeys(i.path for i in data.images))
        captions = list(dict.fromkeys(i.caption for i in data.images))
    latents = LatentBank(vae, cfg.data, paths, cfg.resolution, device)
    prompts = PromptBank(tokenizer, text_encoder, captions, device)
    del vae, text_encoder
    if device == "cuda":
        torch.cuda.empty_cache()

    # The adapter: weights drawn after seeding, trainable parameters in fp32.
    unet.to(device)
    if weight_dtype != torch.float32:
        unet.to(dtype=weight_dtype)
    torch.manual_seed(cfg.seed)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, init_lora_weights="gaussian", target_modules=list(cfg.target_modules))
    unet.add_adapter(lora)
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = get_scheduler("constant_with_warmup", optimizer=optimizer, num_warmup_steps=cfg.lr_warmup_steps,
                                 num_training_steps=cfg.steps)
    unet, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    bare_unet = accelerator.unwrap_model(unet)
    unet.train()

    order = Order(len(examples), generator)
    if isinstance(data, KTOExport):
        desirable = torch.tensor([i.desirable for i in data.images])
        n_pos = int(desirable.sum())
        weights = torch.where(desirable, cfg.kto_positive_ratio / max(n_pos, 1),
                              (1 - cfg.kto_positive_ratio) / max(len(desirable) - n_pos, 1))

    def target_for(clean: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        kind = noise_scheduler.config.prediction_type
        if kind == "epsilon":
            return noise
        if kind == "v_prediction":
            return noise_scheduler.get_velocity(clean, noise, timesteps)
        raise ValueError(f"unknown prediction type {kind}")

    def errors(clean: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor, states: torch.Tensor):
        """Per-image denoising errors of the policy (with grad) and the reference (adapter off)."""
        clean, noise, timesteps = clean.to(device), noise.to(device), timesteps.to(device)
        noisy = noise_scheduler.add_noise(clean, noise, timesteps).to(weight_dtype)
        states = states.to(device, dtype=weight_dtype)
        target = target_for(clean, noise, timesteps).float()
        with torch.no_grad():
            bare_unet.disable_adapters()
            try:
                reference = unet(noisy, timesteps, states).sample
            finally:
                bare_unet.enable_adapters()
            reference = F.mse_loss(reference.float(), target, reduction="none").mean(dim=[1, 2, 3])
        policy = unet(noisy, timesteps, states).sample
        policy = F.mse_loss(policy.float(), target, reduction="none").mean(dim=[1, 2, 3])
        return policy, reference

    def dpo_objective() -> losses.Objective:
        batch = [examples[i] for i in order.take(cfg.batch_size)]
        clean = torch.cat([latents.sample([p.winner for p in batch], generator),
                           latents.sample([p.loser for p in batch], generator)])
        # The same noise and timestep for the winner and the loser of a pair.
        noise = torch.randn(clean[: len(batch)].shape, generator=generator).repeat(2, 1, 1, 1)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),), generator=generator).repeat(2)
        states = prompts.get([p.caption for p in batch]).repeat(2, 1, 1)
        policy, reference = errors(clean, noise, timesteps, states)
        policy_w, policy_l = policy.chunk(2)
        reference_w, reference_l = reference.chunk(2)
        return losses.dpo(policy_w, policy_l, reference_w, reference_l, cfg.beta)

    def kto_objective() -> losses.Objective:
        rows = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=generator).tolist()
        batch = [examples[i] for i in rows]
        clean = latents.sample([i.path for i in batch], generator)
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),), generator=generator)
        policy, reference = errors(clean, noise, timesteps, prompts.get([i.caption for i in batch]))
        labels = torch.tensor([i.desirable for i in batch], device=policy.device)
        return losses.kto(policy, reference, labels, cfg.beta, cfg.kto_lambda_desirable, cfg.kto_lambda_undesirable)

    objective = dpo_objective if isinstance(data, PairsExport) else kto_objective
    emit({"event": "start", "method": cfg.method, "steps": cfg.steps, "examples": len(examples), "images": len(paths),
          "device": device, "load_s": round(loaded - started, 3), "encode_s": round(time.monotonic() - loaded, 3)})

    log: List[Dict] = []
    train_started = time.monotonic()
    for step in range(1, cfg.steps + 1):
        step_loss = step_accuracy = 0.0
        for _ in range(cfg.gradient_accumulation):
            with accelerator.accumulate(unet):
                result = objective()
                accelerator.backward(result.loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            step_loss += result.loss.item() / cfg.gradient_accumulation
            step_accuracy += result.accuracy.item() / cfg.gradient_accumulation
        elapsed = time.monotonic() - train_started
        record = {"event": "step", "step": step, "steps": cfg.steps, "loss": step_loss, "accuracy": step_accuracy,
                  "lr": lr_scheduler.get_last_lr()[0], "elapsed_s": round(elapsed, 3),
                  "eta_s": round(elapsed / step * (cfg.steps - step), 3)}
        log.append(record)
        emit(record)

    state = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in get_peft_model_state_dict(bare_unet).items()}
    metadata = bare_unet.peft_config["default"].to_dict()
    StableDiffusionPipeline.save_lora_weights(out_dir, unet_lora_layers=state, safe_serialization=True,
                                              unet_lora_adapter_metadata=metadata)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return TrainResult(log=log, examples=len(examples), device=device, seconds=time.monotonic() - started,
                       peak_memory_gib=peak)


def steps_per_second(log: List[Dict]) -> Optional[float]:
    """Optimizer steps per second over the run (first step included), from the log's last
    ``elapsed_s``; None when nothing was timed."""
    if not log or not log[-1]["elapsed_s"]:
        return None
    return round(log[-1]["step"] / log[-1]["elapsed_s"], 4)
