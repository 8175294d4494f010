"""Dynamic batching of generation requests onto one pipeline (no torch import here).

One worker thread drives the pipeline.  Requests (:class:`Job`) wait in a bounded
FIFO queue.  The worker takes the oldest job, then keeps collecting images from
*compatible* jobs (same :class:`BatchKey`) in queue order for up to
``batch_wait_s`` or until ``max_batch`` images are collected, and runs them with
ONE call of ``run_batch``.  Incompatible jobs stay queued, in order, for a later
call.  A job asking for more images than ``max_batch`` is split over several
calls; every job gets exactly its own images back, in order.

The LoRA adapter is part of :class:`BatchKey`: diffusers activates adapters for a
whole pipeline call, so requests for different adapters never share one.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, List, Optional, Protocol, Sequence, Tuple


@dataclass(frozen=True)
class BatchKey:
    """Settings that must be equal for images to share one pipeline call.

    ``adapter`` is the LoRA adapter's name, or ``None`` for the base model.
    """

    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    adapter: Optional[str] = None


@dataclass(frozen=True)
class ImageSpec:
    """What differs per image inside one batch."""

    prompt: str
    negative_prompt: str
    seed: int


class QueueFullError(Exception):
    """Raised by :meth:`DynamicBatcher.submit` when the queue holds ``max_queue`` jobs."""


class BatcherStoppedError(Exception):
    """Raised for jobs that cannot run because the batcher is stopping."""


class BatchObserver(Protocol):
    """Told about every pipeline call (metrics); called on the worker thread, must not block."""

    def batch_done(self, key: BatchKey, n_images: int, queue_waits_s: Sequence[float],
                   call_s: float, ok: bool) -> None:
        """``queue_waits_s``: for each job in the call, seconds from submit to dispatch."""


class Job:
    """One request: some images with common settings, and a place for their results."""

    def __init__(self, key: BatchKey, images: Sequence[ImageSpec]):
        if not images:
            raise ValueError("a job needs at least one image")
        self.key = key
        self.images: Tuple[ImageSpec, ...] = tuple(images)
        self.results: List[Any] = [None] * len(self.images)
        self.error: Optional[BaseException] = None
        self.enqueued_at = 0.0
        self._next = 0  # index of the next image not yet handed to a pipeline call
        self._pending = len(self.images)  # images not yet finished
        self._done = threading.Event()
        self._callbacks: List[Callable[["Job"], None]] = []
        self._callbacks_lock = threading.Lock()

    @property
    def undispatched(self) -> int:
        """Number of this job's images not yet handed to a pipeline call."""
        return len(self.images) - self._next

    def done(self) -> bool:
        """True once every image finished or the job failed."""
        return self._done.is_set()

    def add_done_callback(self, callback: Callable[["Job"], None]) -> None:
        """Call ``callback(job)`` once the job is finished (at once if it already is).

        It runs on the thread that finishes the job (usually the batcher's), so it must
        only hand the news on, e.g. with ``loop.call_soon_threadsafe``.
        """
        with self._callbacks_lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def wait(self, timeout: Optional[float] = None) -> List[Any]:
        """Block until the job is finished; return its results in image order.

        Raises the pipeline's exception if the job failed, or ``TimeoutError``.
        """
        if not self._done.wait(timeout):
            raise TimeoutError("generation did not finish in time")
        if self.error is not None:
            raise self.error
        return list(self.results)

    # Called by the batcher only.
    def _complete(self, start: int, results: Sequence[Any]) -> None:
        self.results[start:start + len(results)] = results
        self._pending -= len(results)
        if self._pending == 0:
            self._finish()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._finish()

    def _finish(self) -> None:
        with self._callbacks_lock:
            if self._done.is_set():
                return
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)


#: ``run_batch(key, specs) -> results`` with ``len(results) == len(specs)``.
RunBatch = Callable[[BatchKey, List[ImageSpec]], Sequence[Any]]

# A slice of a job handed to one pipeline call: (job, first image index, end index).
_Slice = Tuple[Job, int, int]


class DynamicBatcher:
    """Bounded request queue plus the single worker thread that drives ``run_batch``."""

    def __init__(self, run_batch: RunBatch, *, max_batch: int = 8,
                 batch_wait_s: float = 0.02, max_queue: int = 64,
                 clock: Callable[[], float] = time.monotonic,
                 observer: Optional[BatchObserver] = None):
        if max_batch < 1 or max_queue < 1 or batch_wait_s < 0:
            raise ValueError("max_batch and max_queue must be >= 1, batch_wait_s >= 0")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        self.max_queue = max_queue
        self._clock = clock
        self._observer = observer
        self._queue: Deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self.pipeline_calls = 0
        self.images_generated = 0
        self.failed_calls = 0
        self.in_flight = 0  # images taken from the queue: being batched or generated

    # ---- public API -----------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._loop, name="drover-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: Optional[float] = None) -> None:
        """Fail every queued job, let the running call finish, and join the thread."""
        with self._cond:
            self._stopping = True
            while self._queue:
                self._queue.popleft()._fail(BatcherStoppedError("worker is shutting down"))
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, job: Job) -> Job:
        """Queue ``job`` (returns it); raise :class:`QueueFullError` when the queue is full."""
        with self._cond:
            if self._stopping:
                raise BatcherStoppedError("worker is shutting down")
            if len(self._queue) >= self.max_queue:
                raise QueueFullError(f"queue is full ({self.max_queue} requests waiting)")
            job.enqueued_at = self._clock()
            self._queue.append(job)
            self._cond.notify_all()
        return job

    def cancel(self, job: Job) -> bool:
        """Drop ``job`` if none of its images was handed to a pipeline call yet.

        Returns True if it was dropped (it then fails with :class:`BatcherStoppedError`);
        False if it is already running or finished, and then it runs to the end.
        """
        with self._cond:
            if job not in self._queue or job.undispatched != len(job.images):
                return False
            self._queue.remove(job)
        job._fail(BatcherStoppedError("request cancelled before it ran"))
        return True

    def alive(self) -> bool:
        """True while the worker thread runs and the batcher is not stopping."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def queue_depth(self) -> int:
        """Number of requests waiting (not yet completely handed to a pipeline call)."""
        with self._cond:
            return len(self._queue)

    def stats(self) -> dict:
        """Counters for health reporting."""
        with self._cond:
            return {
                "queue_depth": len(self._queue),
                "pipeline_calls": self.pipeline_calls,
                "images_generated": self.images_generated,
                "failed_calls": self.failed_calls,
                "in_flight": self.in_flight,
            }

    # ---- worker thread ---------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                key, slices = self._collect()
                n_images = sum(end - start for _, start, end in slices)
            self._execute(key, slices, n_images)

    def _collect(self) -> Tuple[BatchKey, List[_Slice]]:
        """Gather one batch; called with the lock held (released while waiting)."""
        key = self._queue[0].key
        slices: List[_Slice] = []
        count = self._take_compatible(key, slices, self.max_batch)
        self.in_flight = count
        deadline = self._clock() + self.batch_wait_s
        while count < self.max_batch and not self._stopping:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
            count += self._take_compatible(key, slices, self.max_batch - count)
            self.in_flight = count
        return key, slices

    def _take_compatible(self, key: BatchKey, slices: List[_Slice], room: int) -> int:
        """Move up to ``room`` images of jobs with ``key`` (in queue order) into ``slices``."""
        taken = 0
        for job in list(self._queue):
            if taken >= room:
                break
            if job.key != key:
                continue
            k = min(job.undispatched, room - taken)
            slices.append((job, job._next, job._next + k))
            job._next += k
            taken += k
            if job.undispatched == 0:
                self._queue.remove(job)
        return taken

    def _execute(self, key: BatchKey, slices: List[_Slice], n_images: int) -> None:
        """Run one pipeline call, tell the observer, then hand out results or the error."""
        specs: List[ImageSpec] = []
        for job, start, end in slices:
            specs.extend(job.images[start:end])
        started = self._clock()
        # A job's wait ends when its first image is dispatched (a split job waits once).
        waits = [started - job.enqueued_at for job, start, _ in slices if start == 0]
        error: Optional[BaseException] = None
        try:
            results = list(self._run_batch(key, specs))
            if len(results) != len(specs):
                raise RuntimeError(
                    f"pipeline returned {len(results)} images for {len(specs)} prompts")
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the callers
            error = exc
        if self._observer is not None:
            self._observer.batch_done(key, n_images, waits, self._clock() - started,
                                      error is None)
        if error is not None:
            with self._cond:
                self.pipeline_calls += 1
                self.failed_calls += 1
                self.in_flight = 0
                for job, _, _ in slices:
                    job._fail(error)
                    if job in self._queue:  # rest of a split job: drop it too
                        self._queue.remove(job)
            return
        with self._cond:
            self.pipeline_calls += 1
            self.images_generated += n_images
            self.in_flight = 0
        offset = 0
        for job, start, end in slices:
            job._complete(start, results[offset:offset + (end - start)])
            offset += end - start
