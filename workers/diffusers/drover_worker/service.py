"""The loaded worker: pipeline, adapters, batcher and metrics, with no HTTP in it.

:meth:`ImageService.load` is the one slow, once-per-process step (uvicorn's main, a
Modal container's ``@modal.enter``, a Ray Serve replica's start); the ASGI app in
:mod:`.app` then serves requests on the result.
"""

from __future__ import annotations

import time
from typing import Any, List

from . import api
from .adapters import AdapterConfigError, ModelCatalog, find_adapters
from .batching import BatcherStoppedError, DynamicBatcher, Job, QueueFullError
from .config import WorkerConfig
from .metrics import WorkerMetrics
from .pipeline import ModelLoadError, PipelineRunner, load_pipeline


class ImageService:
    """One pipeline with its adapters behind one dynamic batcher."""

    def __init__(self, config: WorkerConfig, runner: PipelineRunner, catalog: ModelCatalog):
        """Wire ``runner`` to a new batcher and metrics, and start the batcher thread."""
        self.config = config
        self.runner = runner
        self.catalog = catalog
        self.metrics = WorkerMetrics(queue_depth=lambda: self.batcher.queue_depth(),
                                     in_flight=lambda: self.batcher.stats()["in_flight"])
        self.batcher = DynamicBatcher(runner.run_batch, max_batch=config.max_batch,
                                      batch_wait_s=config.batch_wait_ms / 1000.0,
                                      max_queue=config.max_queue, observer=self.metrics)
        runner.on_switch = self.metrics.adapter_switched
        self.batcher.start()

    @classmethod
    def load(cls, config: WorkerConfig) -> "ImageService":
        """Load the pipeline and every adapter the config names; start the batcher.

        Raises :class:`ModelLoadError` with a readable message if anything is missing.
        """
        try:
            adapters = find_adapters(config.loras, config.lora_dirs, config.base_model_name)
        except AdapterConfigError as exc:
            raise ModelLoadError(str(exc)) from exc
        runner = load_pipeline(config.model, config.device, config.safety_checker, adapters)
        catalog = ModelCatalog(config.base_model_name, tuple(adapters), int(time.time()))
        return cls(config, runner, catalog)

    def close(self, timeout: float = 30.0) -> None:
        """Fail queued requests, let the running call finish and stop the batcher."""
        self.batcher.stop(timeout=timeout)

    def submit(self, req: api.GenerationRequest) -> Job:
        """Queue ``req`` for the model it names; raises :class:`api.ApiError` (404, 503)."""
        adapter = self.catalog.resolve(req.model)
        job = Job(req.batch_key(adapter), req.image_specs())
        try:
            self.batcher.submit(job)
        except QueueFullError as exc:
            raise api.ApiError(503, f"server is busy: {exc}; retry later",
                               type="server_busy") from None
        except BatcherStoppedError as exc:
            raise api.ApiError(503, str(exc), type="server_busy") from None
        return job

    def response(self, req: api.GenerationRequest, job: Job) -> dict:
        """The 200 body for a finished job; raises :class:`api.ApiError` if it failed."""
        try:
            results: List[Any] = job.wait(timeout=0)
        except BatcherStoppedError as exc:
            raise api.ApiError(503, str(exc), type="server_busy") from None
        except Exception as exc:  # noqa: BLE001 - pipeline failure
            raise api.ApiError(500, f"image generation failed: {type(exc).__name__}: {exc}",
                               type="server_error") from None
        model = req.model if req.model is not None else self.catalog.base_name
        return api.generation_response(req, results, model)

    def health(self) -> dict:
        """Body of ``GET /healthz``; ``status`` is ``ok`` only while the batcher runs."""
        stats = self.batcher.stats()
        return {
            "status": "ok" if self.batcher.alive() else "stopped",
            "model": self.catalog.base_name,
            "adapters": list(self.catalog.adapters),
            "device": self.runner.device,
            "dtype": self.runner.dtype_name,
            "queue_depth": stats["queue_depth"],
            "in_flight": stats["in_flight"],
            "pipeline_calls": stats["pipeline_calls"],
            "failed_calls": stats["failed_calls"],
            "images_generated": stats["images_generated"],
            "max_batch": self.batcher.max_batch,
            "batch_wait_ms": self.config.batch_wait_ms,
            "max_queue": self.batcher.max_queue,
        }
