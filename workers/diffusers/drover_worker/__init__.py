"""Drover's bundled image-generation worker: a diffusers Stable Diffusion pipeline behind
an OpenAI-compatible ``/v1/images/generations`` endpoint, with dynamic batching."""

__version__ = "0.1.0"
