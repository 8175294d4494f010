"""Diffusion-DPO and Diffusion-KTO LoRA training on Drover's exports.

``python -m drover_trainer --method dpo|kto --base DIR --data EXPORT_DIR --out DIR`` reads an
export written by ``drover export --format pairs`` (DPO) or ``--format diffusion-kto`` (KTO),
trains a LoRA adapter on the base Stable Diffusion pipeline's UNet, and writes the adapter in
diffusers' convention (``pytorch_lora_weights.safetensors``) with a model card and the
training log.
"""

__version__ = "0.1.0"
