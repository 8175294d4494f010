"""Entry point: ``python -m drover_worker --model <hub id or dir> [...]``."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Optional, Sequence

from .batching import DynamicBatcher
from .config import parse_args
from .pipeline import ModelLoadError, load_pipeline
from .server import WorkerApp, make_server


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the model, start the batcher and serve HTTP until SIGINT/SIGTERM."""
    config = parse_args(argv)
    print(f"drover-worker: loading {config.model!r} (device={config.device})",
          file=sys.stderr, flush=True)
    try:
        runner = load_pipeline(config.model, config.device, config.safety_checker)
    except ModelLoadError as exc:
        print(f"drover-worker: error: {exc}", file=sys.stderr, flush=True)
        return 2

    batcher = DynamicBatcher(runner.run_batch, max_batch=config.max_batch,
                             batch_wait_s=config.batch_wait_ms / 1000.0,
                             max_queue=config.max_queue)
    app = WorkerApp(config, batcher, runner.device, runner.dtype_name)
    try:
        server = make_server(app, config.host, config.port)
    except OSError as exc:
        print(f"drover-worker: error: cannot listen on {config.host}:{config.port}: {exc}",
              file=sys.stderr, flush=True)
        return 3
    batcher.start()

    def _stop(signum, _frame):
        print(f"drover-worker: signal {signum}, shutting down", file=sys.stderr, flush=True)
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host, port = server.server_address[:2]
    print(f"drover-worker: serving {config.model!r} on http://{host}:{port} "
          f"(device={runner.device}, dtype={runner.dtype_name}, max_batch={config.max_batch}, "
          f"batch_wait_ms={config.batch_wait_ms:g})", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        batcher.stop(timeout=30)
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
