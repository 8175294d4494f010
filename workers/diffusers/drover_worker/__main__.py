"""Entry point: ``python -m drover_worker --model <hub id or dir> [...]``, served by uvicorn."""

from __future__ import annotations

import socket
import sys
from typing import Optional, Sequence

import uvicorn

from .app import create_app
from .config import parse_args
from .pipeline import ModelLoadError
from .service import ImageService


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the model, then serve HTTP with uvicorn until SIGINT/SIGTERM.

    Exit status 2: the model or an adapter cannot be loaded; 3: the address is taken.
    """
    config = parse_args(argv)
    print(f"drover-worker: loading {config.model!r} (device={config.device})",
          file=sys.stderr, flush=True)
    try:
        service = ImageService.load(config)
    except ModelLoadError as exc:
        print(f"drover-worker: error: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        sock = socket.create_server((config.host, config.port))
    except OSError as exc:
        service.close()
        print(f"drover-worker: error: cannot listen on {config.host}:{config.port}: {exc}",
              file=sys.stderr, flush=True)
        return 3
    host, port = sock.getsockname()[:2]
    runner = service.runner
    print(f"drover-worker: serving {config.base_model_name!r} "
          f"(adapters: {', '.join(service.catalog.adapters) or 'none'}) on http://{host}:{port} "
          f"(device={runner.device}, dtype={runner.dtype_name}, max_batch={config.max_batch}, "
          f"batch_wait_ms={config.batch_wait_ms:g})", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(
        create_app(config, service), log_level="warning", access_log=config.access_log,
        timeout_graceful_shutdown=30))
    try:
        server.run(sockets=[sock])  # handles SIGINT/SIGTERM: stops accepting, drains, returns
    finally:
        service.close()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
