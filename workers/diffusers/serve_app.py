"""The worker on a Ray cluster (Ray Serve): the same ASGI app as ``python -m drover_worker``.

Each replica loads the pipeline and adapters once and batches the requests it is given
with the worker's own dynamic batcher; Ray Serve spreads requests over replicas and
scales their number between ``min_replicas`` and ``max_replicas``::

    cd workers/diffusers
    serve run serve_app:app_builder \\
        worker_args="--model stable-diffusion-v1-5/stable-diffusion-v1-5 --lora-dir /models/lora" \\
        num_gpus=1 min_replicas=1 max_replicas=4

then ``DROVER_GENERATOR=openai DROVER_GENERATOR_URL=http://<head>:8000``.  On Kubernetes,
``deploy/rayservice.yaml`` is a KubeRay ``RayService`` with the same settings.  The bearer
key, if any, comes from ``DROVER_WORKER_API_KEY`` in the replicas' environment.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from pydantic import BaseModel
from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import Response

from drover_worker.app import create_app
from drover_worker.config import parse_arg_string
from drover_worker.service import ImageService

#: Response header naming the replica that answered (for logs and load-spreading checks).
REPLICA_HEADER = "x-drover-replica"


class ServeArgs(BaseModel):
    """Arguments of :func:`app_builder` (``serve run serve_app:app_builder key=value ...``)."""

    worker_args: str
    num_gpus: float = 1.0
    num_cpus: float = 1.0
    min_replicas: int = 1
    max_replicas: int = 4
    #: Requests each replica is sent at once; they meet in its batcher, so at least --max-batch.
    max_ongoing_requests: int = 32
    #: Ongoing requests per replica the autoscaler aims for.
    target_ongoing_requests: float = 8.0


@serve.deployment(ray_actor_options={"num_gpus": 1}, max_ongoing_requests=32,
                  health_check_period_s=10, health_check_timeout_s=30,
                  graceful_shutdown_timeout_s=60)
@serve.ingress()
class DroverWorker:
    """One replica: one pipeline with its adapters behind the worker's batcher."""

    def __init__(self, worker_args: str):
        """Load the pipeline and adapters (once per replica)."""
        self.config = parse_arg_string(worker_args)
        self.service = ImageService.load(self.config)
        self.replica = serve.get_replica_context().replica_id.to_full_id_str()

    def __serve_build_asgi_app__(self) -> Any:
        """The worker's FastAPI app on this replica's service, naming the replica."""
        app = create_app(self.config, self.service)
        replica = self.replica

        @app.middleware("http")
        async def name_replica(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            response = await call_next(request)
            response.headers[REPLICA_HEADER] = replica
            return response

        return app

    def check_health(self) -> None:
        """Ray Serve's health check: the replica is replaced if its batcher stopped."""
        if not self.service.batcher.alive():
            raise RuntimeError("the batcher thread is not running")

    def __del__(self) -> None:
        """Fail what is still queued and stop the batcher when Ray stops the replica."""
        self.service.close()


def app_builder(args: ServeArgs) -> Application:
    """Build the Serve application from ``serve run``/``serve deploy`` arguments."""
    return DroverWorker.options(
        ray_actor_options={"num_gpus": args.num_gpus, "num_cpus": args.num_cpus},
        max_ongoing_requests=args.max_ongoing_requests,
        autoscaling_config={"min_replicas": args.min_replicas,
                            "max_replicas": args.max_replicas,
                            "target_ongoing_requests": args.target_ongoing_requests},
    ).bind(args.worker_args)
