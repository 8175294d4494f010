"""Shared fixtures: a tiny random SD pipeline on disk and real worker subprocesses.

Nothing is downloaded (``HF_HUB_OFFLINE=1``); the pipeline is built from configs.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any, Optional, Tuple

import pytest

WORKER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if WORKER_ROOT not in sys.path:
    sys.path.insert(0, WORKER_ROOT)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

STARTUP_DEADLINE_S = 120.0
REQUEST_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env() -> dict:
    """Environment for worker subprocesses: offline, quiet, importable package."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
               TOKENIZERS_PARALLELISM="false")
    # One intra-op thread: on a small, busy machine two OpenMP threads spin against each
    # other and a tiny pipeline call gets ~5-10x slower.  CI may override it.
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = WORKER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Worker:
    """A running ``python -m drover_worker`` subprocess and a tiny HTTP client for it."""

    def __init__(self, model_dir: str, log_path: str, *extra: str):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        cmd = [sys.executable, "-m", "drover_worker", "--model", model_dir, "--device", "cpu",
               "--host", self.host, "--port", str(self.port), *extra]
        # stderr goes to a file: a pipe nobody reads could fill up and block the worker.
        self.proc = subprocess.Popen(cmd, cwd=WORKER_ROOT, env=worker_env(),
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, deadline_s: float = STARTUP_DEADLINE_S) -> dict:
        """Poll ``/healthz`` until it answers 200, the process dies, or the deadline passes."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, body = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return body
            except OSError:
                pass
            time.sleep(0.1)  # poll interval, not a wait-and-hope: the loop checks readiness
        raise RuntimeError(f"worker not ready after {deadline_s}s:\n{self.log()}")

    def request(self, method: str, path: str, body: Any = None, *, raw: Optional[bytes] = None,
                content_type: Optional[str] = "application/json",
                timeout: float = REQUEST_TIMEOUT_S) -> Tuple[int, Any]:
        """Send one request on a fresh connection; return ``(status, decoded JSON or text)``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            headers = {}
            if data is not None and content_type is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            ctype = resp.getheader("Content-Type", "")
            if ctype.startswith("application/json"):
                return resp.status, json.loads(payload)
            return resp.status, payload.decode("utf-8", "replace")
        finally:
            conn.close()

    def generate(self, **fields) -> Tuple[int, Any]:
        """``POST /v1/images/generations`` with the given JSON fields."""
        return self.request("POST", "/v1/images/generations", fields)

    def health(self) -> dict:
        status, body = self.request("GET", "/healthz")
        assert status == 200, body
        return body

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()


def decode_png(b64: str):
    """Verify a base64 PNG and return it as an RGB ``PIL.Image``."""
    from PIL import Image

    raw = base64.b64decode(b64, validate=True)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    Image.open(io.BytesIO(raw)).verify()  # verify() leaves the image unusable: reopen
    img = Image.open(io.BytesIO(raw))
    img.load()
    return img.convert("RGB")


def max_pixel_diff(b64_a: str, b64_b: str) -> int:
    """Largest per-channel difference (0..255) between two same-size PNGs."""
    import numpy as np

    a = np.asarray(decode_png(b64_a), dtype=np.int16)
    b = np.asarray(decode_png(b64_b), dtype=np.int16)
    assert a.shape == b.shape
    return int(np.abs(a - b).max())


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A tiny random StableDiffusionPipeline saved with ``save_pretrained`` (fixed seeds)."""
    from drover_worker.synthetic import save_tiny_pipeline

    return save_tiny_pipeline(str(tmp_path_factory.mktemp("tiny-sd") / "pipeline"), seed=0)


@pytest.fixture(scope="session")
def worker_factory(tiny_model_dir, tmp_path_factory):
    """Start workers on the tiny model; all are stopped at the end of the session."""
    started = []

    def start(*extra: str) -> Worker:
        log = str(tmp_path_factory.mktemp("worker-log") / "worker.log")
        w = Worker(tiny_model_dir, log, *extra)
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(scope="session")
def worker(worker_factory) -> Worker:
    """The default worker: batching on (max 8 images, 250 ms window), 2 steps by default."""
    return worker_factory("--max-batch", "8", "--batch-wait-ms", "250", "--default-steps", "2")


@pytest.fixture(scope="session")
def slow_window_worker(worker_factory) -> Worker:
    """A worker with a long batching window, small batches and a short queue (max 2 waiting).

    A batch that fills (4 images) starts at once; one that does not waits 5 s.
    """
    return worker_factory("--max-batch", "4", "--batch-wait-ms", "5000", "--max-queue", "2",
                          "--default-steps", "2")
