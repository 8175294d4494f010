"""HTTP front end (standard library ``ThreadingHTTPServer``).

Routes: ``POST /v1/images/generations`` and ``GET /healthz``.  Every error is
answered as OpenAI-shaped JSON.  Handler threads only validate, enqueue, wait
and encode PNGs; the pipeline itself is driven by the batcher's single thread.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from . import api
from .batching import BatcherStoppedError, DynamicBatcher, Job, QueueFullError
from .config import WorkerConfig

GENERATIONS_PATH = "/v1/images/generations"
HEALTH_PATH = "/healthz"
_ROUTES = {GENERATIONS_PATH: ("POST",), HEALTH_PATH: ("GET", "HEAD")}
#: Oversized bodies up to this many bytes are read and dropped before the 413, so the
#: client sees the answer instead of a connection reset; larger ones close the connection.
_DRAIN_LIMIT = 8 * 1024 * 1024


class WorkerApp:
    """What the handlers need: configuration, the batcher and pipeline facts."""

    def __init__(self, config: WorkerConfig, batcher: DynamicBatcher, device: str, dtype: str):
        self.config = config
        self.batcher = batcher
        self.device = device
        self.dtype = dtype

    def health(self) -> dict:
        """Body of ``GET /healthz``."""
        stats = self.batcher.stats()
        return {
            "status": "ok",
            "model": self.config.model,
            "device": self.device,
            "dtype": self.dtype,
            "queue_depth": stats["queue_depth"],
            "in_flight": stats["in_flight"],
            "pipeline_calls": stats["pipeline_calls"],
            "failed_calls": stats["failed_calls"],
            "images_generated": stats["images_generated"],
            "max_batch": self.batcher.max_batch,
            "batch_wait_ms": self.config.batch_wait_ms,
            "max_queue": self.batcher.max_queue,
        }

    def generate(self, raw_body: bytes) -> dict:
        """Validate, queue, wait and shape a generation; raises :class:`api.ApiError`."""
        body = api.parse_json_body(raw_body)
        req = api.parse_generation_request(
            body, default_steps=self.config.default_steps,
            default_guidance_scale=self.config.default_guidance_scale)
        job = Job(req.key, req.image_specs())
        try:
            self.batcher.submit(job)
        except QueueFullError as exc:
            raise api.ApiError(503, f"server is busy: {exc}; retry later",
                               type="server_busy") from None
        except BatcherStoppedError as exc:
            raise api.ApiError(503, str(exc), type="server_busy") from None
        try:
            results = job.wait()
        except BatcherStoppedError as exc:
            raise api.ApiError(503, str(exc), type="server_busy") from None
        except Exception as exc:  # noqa: BLE001 - pipeline failure
            raise api.ApiError(500, f"image generation failed: {type(exc).__name__}: {exc}",
                               type="server_error") from None
        return api.generation_response(req, results, self.config.model)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drover-worker"
    timeout = 60  # seconds a client may stall while sending
    app: WorkerApp  # set on the subclass made by make_server

    # ---- plumbing ---------------------------------------------------------------------
    def _send_json(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error_json(self, err: api.ApiError, headers: Optional[dict] = None) -> None:
        self._send_json(err.status, err.body(), headers)

    def send_error(self, code, message=None, explain=None):  # noqa: D401 - stdlib override
        """Answer protocol-level errors (bad request line, 501, ...) as JSON too."""
        self.close_connection = True
        try:
            kind = "server_error" if code >= 500 else "invalid_request_error"
            self._send_json(code, api.error_body(message or self.responses.get(code, ("",))[0], kind))
        except Exception:  # noqa: BLE001 - client gone
            pass

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        if self.app.config.access_log:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _route(self) -> Optional[tuple]:
        """Return the allowed methods of the path, or answer 404/405 and return None."""
        path = self.path.split("?", 1)[0]
        allowed = _ROUTES.get(path)
        if allowed is None or self.command not in allowed:
            if self.headers.get("Content-Length", "0").strip() not in ("", "0"):
                self.close_connection = True  # the body stays unread
        if allowed is None:
            self._send_error_json(api.ApiError(404, f"unknown route {self.command} {path}"))
            return None
        if self.command not in allowed:
            self._send_error_json(
                api.ApiError(405, f"method {self.command} not allowed on {path}; use "
                             f"{', '.join(allowed)}"), headers={"Allow": ", ".join(allowed)})
            return None
        return allowed

    def _read_body(self) -> Optional[bytes]:
        """Read the JSON body within the size limit, or answer 4xx and return None."""
        limit = self.app.config.max_body_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send_error_json(api.ApiError(411, "chunked bodies are not supported; "
                                                    "send Content-Length"))
            return None
        length_text = self.headers.get("Content-Length")
        try:
            length = int(length_text) if length_text is not None else 0
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send_error_json(api.ApiError(400, "invalid Content-Length header"))
            return None
        if length > limit:
            if length <= _DRAIN_LIMIT:
                self._drain(length)
            else:
                self.close_connection = True
            self._send_error_json(api.ApiError(
                413, f"request body is {length} bytes; the limit is {limit} bytes"))
            return None
        raw = self.rfile.read(length) if length else b""
        if len(raw) != length:
            self.close_connection = True
            self._send_error_json(api.ApiError(400, "request body shorter than Content-Length"))
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            self._send_error_json(api.ApiError(
                415, f"Content-Type must be application/json, got {ctype or 'none'!r}"))
            return None
        return raw

    def _drain(self, length: int) -> None:
        remaining = length
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass
        if remaining:
            self.close_connection = True

    # ---- methods ------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        if self._route() is not None:
            self._send_json(200, self.app.health())

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        if self._route() is None:
            return
        raw = self._read_body()
        if raw is None:
            return
        try:
            payload = self.app.generate(raw)
        except api.ApiError as err:
            self._send_error_json(err)
            return
        except Exception as exc:  # noqa: BLE001
            self._send_error_json(api.ApiError(500, f"internal error: {exc}", type="server_error"))
            return
        self._send_json(200, payload)

    def _other_method(self) -> None:
        self._route()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other_method


class WorkerHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server whose handler threads do not block shutdown."""

    daemon_threads = True
    allow_reuse_address = True


def make_server(app: WorkerApp, host: str, port: int) -> WorkerHTTPServer:
    """Bind the HTTP server for ``app`` (port 0 picks a free port)."""
    handler = type("WorkerHandler", (_Handler,), {"app": app})
    return WorkerHTTPServer((host, port), handler)
