"""Prometheus metrics of one worker, in a registry of its own (no global state).

Images per second is ``rate(drover_worker_images_generated_total[1m])``; the
histograms give batch sizes, how long requests waited in the queue, how long one
denoising step took and how long switching LoRA adapters took.
"""

from __future__ import annotations

from typing import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

from .batching import BatchKey

#: The ``Content-Type`` of :meth:`WorkerMetrics.render`.
CONTENT_TYPE = CONTENT_TYPE_LATEST
_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class WorkerMetrics:
    """The worker's metrics; it is the batcher's :class:`~.batching.BatchObserver`."""

    def __init__(self, queue_depth: Callable[[], float], in_flight: Callable[[], float]):
        self.registry = CollectorRegistry()
        r = self.registry
        self.images = Counter("drover_worker_images_generated", "Images generated",
                              ["model"], registry=r)
        self.calls = Counter("drover_worker_pipeline_calls", "Pipeline calls by outcome",
                             ["outcome"], registry=r)
        self.batch_size = Histogram("drover_worker_batch_images", "Images per pipeline call",
                                    buckets=(1, 2, 4, 8, 16, 32), registry=r)
        self.queue_wait = Histogram("drover_worker_queue_wait_seconds",
                                    "Time from a request's arrival to its first pipeline call",
                                    buckets=_SECONDS, registry=r)
        self.call_time = Histogram("drover_worker_pipeline_call_seconds",
                                   "Duration of one pipeline call", buckets=_SECONDS, registry=r)
        self.step_time = Histogram("drover_worker_step_seconds",
                                   "Pipeline call duration divided by its denoising steps "
                                   "(text encoding and VAE decode included)",
                                   buckets=_SECONDS, registry=r)
        self.switch_time = Histogram("drover_worker_adapter_switch_seconds",
                                     "Time to change the active LoRA adapter",
                                     buckets=_SECONDS, registry=r)
        self.requests = Counter("drover_worker_requests", "Generation requests by HTTP status",
                                ["status"], registry=r)
        Gauge("drover_worker_queue_depth", "Requests waiting in the queue",
              registry=r).set_function(queue_depth)
        Gauge("drover_worker_in_flight_images", "Images taken from the queue, not yet done",
              registry=r).set_function(in_flight)

    def batch_done(self, key: BatchKey, n_images: int, queue_waits_s: Sequence[float],
                   call_s: float, ok: bool) -> None:
        """Record one pipeline call (the batcher calls this)."""
        self.calls.labels("ok" if ok else "error").inc()
        for wait in queue_waits_s:
            self.queue_wait.observe(wait)
        if not ok:
            return
        self.images.labels(key.adapter or "base").inc(n_images)
        self.batch_size.observe(n_images)
        self.call_time.observe(call_s)
        self.step_time.observe(call_s / key.num_inference_steps)

    def adapter_switched(self, seconds: float) -> None:
        """Record one change of the active adapter."""
        self.switch_time.observe(seconds)

    def request_answered(self, status: int) -> None:
        """Count one answered generation request."""
        self.requests.labels(str(status)).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
