"""The worker on Modal's serverless GPUs: the same ASGI app as ``python -m drover_worker``.

Deploy::

    modal secret create drover-worker DROVER_WORKER_API_KEY=<a long random key>
    modal deploy workers/diffusers/modal_app.py

then point Drover at the URL Modal prints::

    DROVER_GENERATOR=openai DROVER_GENERATOR_URL=https://<workspace>--drover-worker-worker-web.modal.run \\
    DROVER_GENERATOR_API_KEY=<the same key> drover serve

Settings are read when the app is deployed (environment of ``modal deploy``):

``DROVER_MODAL_WORKER_ARGS``  the worker's command line (``python -m drover_worker --help``);
                              default SD 1.5 with every adapter under ``/models/lora``
``DROVER_MODAL_GPU``          GPU type (``L4``, ``A10G``, ``L40S``, ``A100``, ``H100``, ...)
``DROVER_MODAL_SCALEDOWN_S``  idle seconds before a container is stopped
``DROVER_MODAL_MAX_INPUTS``   concurrent requests per container (they meet in its batcher)
``DROVER_MODAL_SECRET``       the Modal secret that holds ``DROVER_WORKER_API_KEY``

Weights live on the Modal Volume ``drover-models`` (mounted at ``/models``; Hugging Face's
cache is ``/models/hf``), so they are downloaded once, not at every cold start:
``modal run workers/diffusers/modal_app.py::download`` fills it; LoRA adapters go to
``/models/lora/<name>/`` with ``modal volume put drover-models <dir> /lora/<name>``.
"""

from __future__ import annotations

import os
from pathlib import Path

import modal

WORKER_DIR = Path(__file__).resolve().parent
MODELS_PATH = "/models"
DEFAULT_WORKER_ARGS = ("--model stable-diffusion-v1-5/stable-diffusion-v1-5 "
                       f"--lora-dir {MODELS_PATH}/lora --max-batch 8")

WORKER_ARGS = os.environ.get("DROVER_MODAL_WORKER_ARGS", DEFAULT_WORKER_ARGS)
GPU = os.environ.get("DROVER_MODAL_GPU", "L40S")
SCALEDOWN_S = int(os.environ.get("DROVER_MODAL_SCALEDOWN_S", "300"))
MAX_INPUTS = int(os.environ.get("DROVER_MODAL_MAX_INPUTS", "32"))
SECRET_NAME = os.environ.get("DROVER_MODAL_SECRET", "drover-worker")

app = modal.App("drover-worker")
models = modal.Volume.from_name("drover-models", create_if_missing=True)
image = (
    modal.Image.debian_slim(python_version="3.12")
    .pip_install_from_requirements(str(WORKER_DIR / "requirements.txt"))
    .env({"HF_HOME": f"{MODELS_PATH}/hf", "DROVER_WORKER_ARGS": WORKER_ARGS,
          "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    .add_local_python_source("drover_worker")
)

with image.imports():
    from drover_worker.app import create_app
    from drover_worker.config import parse_arg_string
    from drover_worker.service import ImageService


@app.cls(image=image, gpu=GPU, volumes={MODELS_PATH: models},
         secrets=[modal.Secret.from_name(SECRET_NAME, required_keys=["DROVER_WORKER_API_KEY"])],
         scaledown_window=SCALEDOWN_S, timeout=600)
@modal.concurrent(max_inputs=MAX_INPUTS)
class Worker:
    """One container: the pipeline and adapters loaded once, served as the worker's ASGI app."""

    @modal.enter()
    def load(self) -> None:
        """Load the pipeline and adapters and start the batcher (once per container)."""
        self.config = parse_arg_string(os.environ["DROVER_WORKER_ARGS"])
        self.service = ImageService.load(self.config)

    @modal.asgi_app()
    def web(self):
        """The same FastAPI app ``python -m drover_worker`` serves, on the loaded service."""
        return create_app(self.config, self.service)

    @modal.exit()
    def close(self) -> None:
        """Fail what is still queued and stop the batcher when the container stops."""
        self.service.close()


@app.function(image=image, volumes={MODELS_PATH: models}, timeout=3600)
def download() -> None:
    """Fill the ``drover-models`` Volume with the base model's weights (run once)."""
    from huggingface_hub import snapshot_download

    model = parse_arg_string(os.environ["DROVER_WORKER_ARGS"]).model
    # The diffusers layout only (one folder per component), not the single-file checkpoints.
    snapshot_download(model, allow_patterns=["*.json", "*.txt", "*/*.safetensors"])
    models.commit()
