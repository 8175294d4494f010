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
from typing import Any, Optional, Sequence, Tuple

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
    """A running worker subprocess and a tiny HTTP client for it.

    ``argv`` is the command; ``{port}`` in it is replaced by a free port on 127.0.0.1.
    """

    def __init__(self, log_path: str, argv: Sequence[str], env: Optional[dict] = None,
                 stdin: Optional[int] = None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        cmd = [arg.replace("{port}", str(self.port)) for arg in argv]
        # stderr goes to a file: a pipe nobody reads could fill up and block the worker.
        self.proc = subprocess.Popen(cmd, cwd=WORKER_ROOT, env={**worker_env(), **(env or {})},
                                     stdin=stdin, stdout=self._log, stderr=subprocess.STDOUT)

    @classmethod
    def cli(cls, model_dir: str, log_path: str, *extra: str,
            env: Optional[dict] = None) -> "Worker":
        """``python -m drover_worker`` on ``model_dir`` (CPU) with extra arguments."""
        return cls(log_path, [sys.executable, "-m", "drover_worker", "--model", model_dir,
                              "--device", "cpu", "--host", "127.0.0.1", "--port", "{port}",
                              *extra], env)

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
                headers: Optional[dict] = None,
                timeout: float = REQUEST_TIMEOUT_S) -> Tuple[int, Any]:
        """Send one request on a fresh connection; return ``(status, decoded JSON or text)``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            headers = dict(headers or {})
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


#: Largest per-channel pixel difference allowed between a batched and an alone image.
BATCH_TOLERANCE = 2
#: Two different seeds must differ by far more than that somewhere.
DIFFERENT_SEED_MIN_DIFF = 20

SMALL = dict(size="64x64", num_inference_steps=2, guidance_scale=7.5)


def assert_error(status, body, expected_status, param="__any__", type_="invalid_request_error",
                 code=None) -> None:
    """Check an answer is ``expected_status`` with an OpenAI-shaped error body."""
    assert status == expected_status, body
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"] == type_ and err["code"] == code
    if param != "__any__":
        assert err["param"] == param


def poll_until(predicate, deadline_s: float = 30.0) -> None:
    """Check ``predicate`` every 20 ms until it holds; fail after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached before the deadline")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A tiny random StableDiffusionPipeline saved with ``save_pretrained`` (fixed seeds)."""
    from drover_worker.synthetic import save_tiny_pipeline

    return save_tiny_pipeline(str(tmp_path_factory.mktemp("tiny-sd") / "pipeline"), seed=0)


@pytest.fixture(scope="session")
def worker_factory(tiny_model_dir, tmp_path_factory):
    """Start workers on the tiny model; all are stopped at the end of the session."""
    started = []

    def start(*extra: str, env: Optional[dict] = None) -> Worker:
        log = str(tmp_path_factory.mktemp("worker-log") / "worker.log")
        w = Worker.cli(tiny_model_dir, log, *extra, env=env)
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(scope="session")
def lora_root(tmp_path_factory) -> str:
    """A directory of two random LoRA adapters for the tiny model: ``style-a`` and ``style-b``.

    Each is saved the way Drover's trainer saves one (``pytorch_lora_weights.safetensors``).
    """
    from drover_worker.synthetic import build_tiny_pipeline, save_random_lora

    root = tmp_path_factory.mktemp("loras")
    pipe = build_tiny_pipeline(str(root / "work"), seed=0)
    for seed, name in ((1, "style-a"), (2, "style-b")):
        save_random_lora(pipe, str(root / "adapters" / name), seed=seed)
    return str(root / "adapters")


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
