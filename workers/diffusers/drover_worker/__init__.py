"""Drover's bundled image-generation worker: a diffusers Stable Diffusion pipeline (plus
LoRA adapters as model versions) behind an OpenAI-compatible ``/v1/images/generations``
endpoint, with dynamic batching, as one ASGI app for uvicorn, Modal and Ray Serve."""

__version__ = "0.2.0"
