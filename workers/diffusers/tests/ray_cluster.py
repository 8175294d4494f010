"""A local Ray cluster serving ``serve_app`` on the CPU, driven over stdin by the tests.

``python tests/ray_cluster.py PORT REPLICAS WORKER_ARGS``: start Ray (head node in this
process), Serve's HTTP proxy on 127.0.0.1:PORT and ``serve_app.app_builder`` with
REPLICAS replicas (no GPU), print ``SESSION <Ray's session directory>`` (its ``logs/serve/``
holds the proxy's access log, one line per answer) and ``READY``, then obey lines on stdin:

``kill <replica id>``  kill that replica's actor (as a crashed node would), print ``KILLED``
``quit``               shut Serve and Ray down and exit
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ray  # noqa: E402
from ray import serve  # noqa: E402

from serve_app import ServeArgs, app_builder  # noqa: E402


def main(port: int, replicas: int, worker_args: str) -> int:
    """Run the cluster until ``quit`` or end of input."""
    context = ray.init(num_cpus=replicas + 2, include_dashboard=False, log_to_driver=False,
                       runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    print(f"SESSION {context.address_info['session_dir']}", flush=True)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(app_builder(ServeArgs(worker_args=worker_args, num_gpus=0, num_cpus=1,
                                    min_replicas=replicas, max_replicas=replicas)),
              route_prefix="/")
    print("READY", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "kill":
            ray.kill(ray.get_actor(argument, namespace="serve"), no_restart=True)
            print("KILLED", flush=True)
        elif command == "quit":
            break
    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
