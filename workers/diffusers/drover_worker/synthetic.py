"""Random-weight Stable Diffusion pipelines built offline, for tests and benchmarks.

The server never imports this module.  Nothing is downloaded: the models are
built from configs and the tokenizer from a small vocabulary written here.
"""

from __future__ import annotations

import json
import os
import string
from typing import Any, Dict, Optional

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"

#: Tiny architecture used by the tests and ``bench.py --tiny`` (SD-shaped, VAE scale 8).
TINY_UNET: Dict[str, Any] = dict(
    sample_size=8,
    in_channels=4,
    out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=32,
)
TINY_VAE: Dict[str, Any] = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(32, 32, 32, 32),
    layers_per_block=1,
    latent_channels=4,
    norm_num_groups=32,
    sample_size=64,
)
TINY_TEXT: Dict[str, Any] = dict(
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    projection_dim=32,
    layer_norm_eps=1e-5,
    hidden_act="quick_gelu",
)
#: Stable Diffusion v1.x scheduler settings (PNDM, as published with SD 1.5).
SD_SCHEDULER: Dict[str, Any] = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    skip_prk_steps=True,
    set_alpha_to_one=False,
    steps_offset=1,
)


def write_tiny_tokenizer_files(directory: str) -> str:
    """Write a 54-token CLIP BPE vocabulary (``vocab.json`` + ``merges.txt``).

    Tokens: the two specials and every lowercase letter alone and as a word end
    (``a</w>``); with no merges every word is spelled letter by letter.  Returns
    ``directory``.
    """
    os.makedirs(directory, exist_ok=True)
    letters = string.ascii_lowercase
    tokens = list(letters) + [c + "</w>" for c in letters] + [BOS, EOS]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
    return directory


def build_tokenizer(work_dir: str, model_max_length: int = 77):
    """A ``CLIPTokenizer`` over the tiny vocabulary (files written under ``work_dir``)."""
    from transformers import CLIPTokenizer

    tok_dir = write_tiny_tokenizer_files(os.path.join(work_dir, "tokenizer-src"))
    return CLIPTokenizer(
        vocab=os.path.join(tok_dir, "vocab.json"),
        merges=os.path.join(tok_dir, "merges.txt"),
        model_max_length=model_max_length,
    )


def build_pipeline(unet_config: Dict[str, Any], vae_config: Dict[str, Any],
                   text_config: Dict[str, Any], tokenizer: Any, seed: int = 0,
                   scheduler_config: Optional[Dict[str, Any]] = None):
    """Build a ``StableDiffusionPipeline`` with random weights from the given configs.

    Weights are drawn after ``torch.manual_seed(seed)`` so the same call builds the
    same model.  ``text_config`` gets the tokenizer's special-token ids and, when it
    has no ``vocab_size``, the tokenizer's vocabulary size.
    """
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    text_kwargs = dict(text_config)
    text_kwargs.setdefault("vocab_size", len(tokenizer))
    text_kwargs.update(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**unet_config)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(**vae_config)
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(**text_kwargs))
    scheduler = PNDMScheduler(**(scheduler_config or SD_SCHEDULER))
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_pipeline(work_dir: str, seed: int = 0):
    """The tiny random pipeline used by the tests (64x64 by default, VAE scale 8)."""
    return build_pipeline(TINY_UNET, TINY_VAE, TINY_TEXT, build_tokenizer(work_dir), seed=seed)


def save_tiny_pipeline(out_dir: str, seed: int = 0) -> str:
    """Build the tiny pipeline and ``save_pretrained`` it to ``out_dir``; returns ``out_dir``."""
    pipe = build_tiny_pipeline(out_dir + "-work", seed=seed)
    pipe.save_pretrained(out_dir)
    return out_dir


#: The UNet attention projections a LoRA adapter adapts (as diffusers' LoRA examples do).
LORA_TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")


def save_random_lora(pipe: Any, out_dir: str, seed: int, rank: int = 4,
                     std: float = 0.5) -> str:
    """Save a random LoRA adapter for ``pipe``'s UNet to ``out_dir``; returns ``out_dir``.

    The adapter is made with peft (``LoraConfig`` on the attention projections) and saved
    the way a diffusers/peft trainer saves one:
    ``save_lora_weights(dir, unet_lora_layers=get_peft_model_state_dict(unet))``, i.e.
    ``pytorch_lora_weights.safetensors``.  peft starts ``lora_B`` at zero (a no-op), so
    every LoRA weight is redrawn from N(0, std) after ``torch.manual_seed(seed)``.
    ``pipe`` is left without the adapter.
    """
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    name = f"random-{seed}"
    unet = pipe.unet
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=list(LORA_TARGET_MODULES)),
                     adapter_name=name)
    torch.manual_seed(seed)
    with torch.no_grad():
        for param_name, param in unet.named_parameters():
            if ".lora_" in param_name and f".{name}." in param_name:
                param.normal_(0.0, std)
    layers = get_peft_model_state_dict(unet, adapter_name=name)
    type(pipe).save_lora_weights(out_dir, unet_lora_layers=layers, safe_serialization=True)
    unet.delete_adapters(name)
    return out_dir
