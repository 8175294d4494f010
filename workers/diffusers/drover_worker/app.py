"""The worker's one ASGI app (FastAPI), served by uvicorn, by Modal and by Ray Serve.

Routes: ``POST /v1/images/generations``, ``GET /v1/models``, ``GET /healthz`` and
``GET /metrics``.  Every error is an OpenAI-shaped JSON body.  Handlers only
validate, queue, await and encode PNGs (on a worker thread); the pipeline is driven
by the batcher's single thread.
"""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import api
from .batching import Job
from .config import WorkerConfig
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .service import ImageService

GENERATIONS_PATH = "/v1/images/generations"
#: Oversized bodies up to this many bytes are read and dropped before the 413, so the
#: client sees the answer instead of a connection reset; larger ones are cut off.
_DRAIN_LIMIT = 8 * 1024 * 1024


def create_app(config: WorkerConfig, service: Optional[ImageService] = None) -> FastAPI:
    """Build the app for ``config``.

    With ``service`` (already loaded, e.g. in Modal's ``@modal.enter``) the app serves
    it and leaves closing it to the caller.  Without, the app's lifespan loads one at
    startup and closes it at shutdown (uvicorn's ``--factory`` style, Ray Serve).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            yield
            return
        loaded = await anyio.to_thread.run_sync(ImageService.load, config)
        app.state.service = loaded
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(loaded.close)

    app = FastAPI(title="Drover diffusers worker", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    _add_error_handlers(app)

    def loaded_service(request: Request) -> ImageService:
        svc: Optional[ImageService] = request.app.state.service
        if svc is None:
            raise api.ApiError(503, "the model is still loading; retry later", type="server_busy")
        return svc

    def authorized(request: Request) -> None:
        if config.api_key is None:
            return
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
                token.strip().encode(), config.api_key.encode()):
            raise api.ApiError(401, "missing or wrong API key: send Authorization: Bearer <key>",
                               code="invalid_api_key")

    @app.post(GENERATIONS_PATH, dependencies=[Depends(authorized)])
    async def generations(request: Request,
                          svc: ImageService = Depends(loaded_service)) -> JSONResponse:
        try:
            raw = await read_body(request, config.max_body_bytes)
            ctype = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                raise api.ApiError(
                    415, f"Content-Type must be application/json, got {ctype or 'none'!r}")
            req = api.parse_generation_request(
                api.parse_json_body(raw), default_steps=config.default_steps,
                default_guidance_scale=config.default_guidance_scale)
            job = svc.submit(req)
            await wait_for(job, svc, config.request_timeout_s)
            payload = await anyio.to_thread.run_sync(svc.response, req, job)
        except api.ApiError as err:
            svc.metrics.request_answered(err.status)
            raise
        svc.metrics.request_answered(200)
        return JSONResponse(payload)

    @app.get("/v1/models", dependencies=[Depends(authorized)])
    async def models(svc: ImageService = Depends(loaded_service)) -> JSONResponse:
        return JSONResponse(svc.catalog.listing())

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    async def healthz(request: Request) -> JSONResponse:
        svc: Optional[ImageService] = request.app.state.service
        if svc is None:
            return JSONResponse({"status": "loading", "model": config.base_model_name}, 503)
        body = svc.health()
        return JSONResponse(body, 200 if body["status"] == "ok" else 503)

    @app.get("/metrics")
    async def metrics(svc: ImageService = Depends(loaded_service)) -> Response:
        return Response(svc.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes; a larger one is a 413.

    A declared ``Content-Length`` over the limit is refused before reading; a body
    without one (chunked) is counted as it streams in.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise api.ApiError(400, "invalid Content-Length header")
        length = int(declared)
        if length > limit:
            if length <= _DRAIN_LIMIT:
                async for _ in request.stream():
                    pass
            raise api.ApiError(413, f"request body is {length} bytes; the limit is {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise api.ApiError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def wait_for(job: Job, svc: ImageService, timeout_s: float) -> None:
    """Await ``job`` without holding a thread; past ``timeout_s`` answer 504.

    A request that times out (or whose task is cancelled) before any of its images
    started is taken out of the queue, so no GPU time is spent on it.
    """
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()

    def wake(_: Job) -> None:  # runs on the batcher thread
        try:
            loop.call_soon_threadsafe(finished.set)
        except RuntimeError:  # the event loop is closed: nobody is waiting any more
            pass

    job.add_done_callback(wake)
    try:
        await asyncio.wait_for(finished.wait(), timeout_s)
    except asyncio.TimeoutError:
        svc.batcher.cancel(job)
        raise api.ApiError(504, f"generation did not finish within {timeout_s:g} s",
                           type="server_error", code="timeout") from None
    except asyncio.CancelledError:
        svc.batcher.cancel(job)
        raise


def _add_error_handlers(app: FastAPI) -> None:
    """Answer every error, the framework's own (404, 405, 500) included, in OpenAI's shape."""

    @app.exception_handler(api.ApiError)
    async def api_error(_: Request, err: api.ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(err.body(), err.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"unknown route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = (f"method {request.method} not allowed on {request.url.path}; use "
                       f"{(exc.headers or {}).get('Allow', '')}")
        else:
            message = str(exc.detail)
        kind = "server_error" if exc.status_code >= 500 else "invalid_request_error"
        return JSONResponse(api.error_body(message, kind), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(api.error_body(f"internal error: {type(exc).__name__}",
                                           "server_error"), 500)
