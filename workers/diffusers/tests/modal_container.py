"""What a Modal container does with ``modal_app.Worker``, minus Modal's cloud.

``python tests/modal_container.py PORT``: import ``modal_app`` (with the ``modal``
package), run the class's ``@modal.enter`` method, take the app its
``@modal.asgi_app`` method returns and serve it with uvicorn on 127.0.0.1:PORT; run the
``@modal.exit`` method at the end.  The settings come from the environment, as in a
container (``DROVER_WORKER_ARGS``, ``DROVER_WORKER_API_KEY``).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import uvicorn  # noqa: E402

import modal_app  # noqa: E402
from drover_worker.app import create_app  # noqa: E402


def main(port: int) -> int:
    """Serve ``modal_app.Worker``'s ASGI app the way a Modal container would."""
    methods = modal_app.Worker._get_partial_functions()
    user_cls = modal_app.Worker._get_user_cls()
    worker = user_cls()
    methods["load"]._get_raw_f()(worker)
    asgi = methods["web"]._get_raw_f()(worker)
    assert modal_app.create_app is create_app, "modal_app must serve drover_worker.app"
    try:
        uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning")
    finally:
        methods["close"]._get_raw_f()(worker)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
