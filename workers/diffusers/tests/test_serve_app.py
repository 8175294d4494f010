"""The worker on Ray Serve, for real: a local Ray cluster on the CPU with two replicas of
``serve_app`` on the tiny random pipeline, driven the way Drover drives a backend.

Requests are made exactly as Drover's ``OpenAIImagesGenerator`` makes them
(``Sources/DroverGenerators/OpenAIImagesGenerator.swift``: ``POST <url>/v1/images/generations``,
snake_case JSON with ``prompt``, ``n``, ``size``, ``response_format: b64_json``, ``seed``,
``num_inference_steps``, ``guidance_scale``, ``negative_prompt``, a bearer key), and a
failed one is tried again the way Drover's inbox tries a failed generation item again
(back to pending, at most ``Inbox.maxAttempts`` = 5 attempts).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

import pytest

from conftest import Worker, decode_png, poll_until

pytest.importorskip("ray.serve")

API_KEY = "ray-test-key"
REPLICA_HEADER = "x-drover-replica"
#: Drover's ``Inbox.maxAttempts``: a generation item is tried at most this often.
DROVER_MAX_ATTEMPTS = 5
CLUSTER_DEADLINE_S = 300.0


class RayCluster(Worker):
    """``tests/ray_cluster.py``: a Ray head node with Serve's proxy on a free port."""

    def send(self, line: str) -> None:
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_for_line(self, text: str, deadline_s: float = CLUSTER_DEADLINE_S) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if text in self.log().splitlines():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"Ray driver exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.1)  # poll interval; the loop checks the condition
        raise RuntimeError(f"no {text!r} from the Ray driver after {deadline_s}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().stop()


def drover_generate(cluster: RayCluster, prompt: str, seed: int, n: int = 1,
                    timeout: float = 120.0) -> Tuple[int, Dict, Optional[str]]:
    """One request as ``OpenAIImagesGenerator.generate`` sends it; (status, body, replica)."""
    body = {"prompt": prompt, "n": n, "size": "64x64", "response_format": "b64_json",
            "seed": seed, "num_inference_steps": 2, "guidance_scale": 7.5,
            "negative_prompt": ""}
    conn = http.client.HTTPConnection(cluster.host, cluster.port, timeout=timeout)
    try:
        conn.request("POST", "/v1/images/generations", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", "Accept": "application/json",
                              "Authorization": f"Bearer {API_KEY}"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"raw": raw.decode("utf-8", "replace")}
        return resp.status, payload, resp.getheader(REPLICA_HEADER)
    finally:
        conn.close()


class DroverClient:
    """Drover's side: each generation retried (as its inbox does) until it succeeds."""

    def __init__(self, cluster: RayCluster):
        self.cluster = cluster
        self.lock = threading.Lock()
        self.replicas: List[str] = []
        self.failed_attempts: List[str] = []
        self.done = 0

    def generation(self, prompt: str, seed: int) -> Dict:
        for attempt in range(DROVER_MAX_ATTEMPTS):
            if attempt:
                time.sleep(0.5 * attempt)  # back-off between attempts, as a retry queue has
            try:
                status, body, replica = drover_generate(self.cluster, prompt, seed)
            except (OSError, http.client.HTTPException) as exc:
                # a reset connection, or an answer cut off when its replica died
                status, body, replica = 0, {"error": repr(exc)}, None
            with self.lock:
                if status == 200:
                    self.replicas.append(replica)
                    self.done += 1
                    return body
                self.failed_attempts.append(f"{status}: {str(body)[:200]}")
        raise AssertionError(f"generation {prompt!r}/{seed} failed {DROVER_MAX_ATTEMPTS} times")


@pytest.fixture(scope="module")
def cluster(tiny_model_dir, tmp_path_factory):
    args = f"--model {tiny_model_dir} --device cpu --default-steps 2 --max-batch 4 " \
           f"--batch-wait-ms 20"
    c = RayCluster(str(tmp_path_factory.mktemp("ray") / "driver.log"),
                   [sys.executable, os.path.join("tests", "ray_cluster.py"), "{port}", "2", args],
                   env={"DROVER_WORKER_API_KEY": API_KEY, "RAY_USAGE_STATS_ENABLED": "0"},
                   stdin=subprocess.PIPE)
    try:
        c.wait_for_line("READY")
        yield c
    finally:
        c.stop()


def run_load(client: DroverClient, clients: int, per_client: int, base_seed: int) -> Dict:
    """``clients`` threads, each making ``per_client`` generations one after another."""
    results: Dict[int, Dict] = {}
    errors: List[BaseException] = []

    def loop(c: int) -> None:
        try:
            for r in range(per_client):
                seed = base_seed + 100 * c + r
                results[seed] = client.generation(f"load {c}", seed)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    return dict(threads=threads, results=results, errors=errors)


def finish(load: Dict) -> Dict[int, Dict]:
    for t in load["threads"]:
        t.join(timeout=CLUSTER_DEADLINE_S)
    assert not any(t.is_alive() for t in load["threads"])
    assert not load["errors"], load["errors"]
    return load["results"]


def test_drover_generates_through_ray_and_load_is_spread(cluster):
    status, body, replica = drover_generate(cluster, "a ray of light", seed=7, n=2)
    assert status == 200, body
    assert [d["seed"] for d in body["data"]] == [7, 8]
    assert decode_png(body["data"][0]["b64_json"]).size == (64, 64)
    assert replica and replica.startswith("SERVE_REPLICA::")

    client = DroverClient(cluster)
    results = finish(run_load(client, clients=6, per_client=4, base_seed=1000))
    assert len(results) == 24
    assert len(set(client.replicas)) == 2, client.replicas  # both replicas did work
    assert not client.failed_attempts, client.failed_attempts


def test_killed_replica_is_replaced_and_no_request_is_lost(cluster):
    client = DroverClient(cluster)
    load = run_load(client, clients=6, per_client=6, base_seed=5000)
    poll_until(lambda: client.done >= 6, deadline_s=CLUSTER_DEADLINE_S)
    with client.lock:
        before = set(client.replicas)
    victim = sorted(before)[0]
    cluster.send(f"kill {victim}")
    cluster.wait_for_line("KILLED")
    results = finish(load)
    assert len(results) == 36  # every generation answered, retried where needed
    for seed, body in results.items():
        assert body["data"][0]["seed"] == seed
        assert decode_png(body["data"][0]["b64_json"]).size == (64, 64)

    # Ray starts a replacement: keep generating until a replica we have not seen answers.
    def replacement_serves() -> bool:
        status, _, replica = drover_generate(cluster, "after", seed=1)
        return status == 200 and replica not in before

    poll_until(replacement_serves, deadline_s=CLUSTER_DEADLINE_S)
    print(f"\nray: {len(client.failed_attempts)} attempts failed and were retried: "
          f"{client.failed_attempts[:3]}", file=sys.stderr)


def test_kuberay_manifest_builds_the_same_application():
    """``deploy/rayservice.yaml`` names ``serve_app:app_builder`` with arguments it accepts."""
    import importlib

    import yaml

    from serve_app import DroverWorker, ServeArgs

    with open(os.path.join(os.path.dirname(__file__), "..", "deploy", "rayservice.yaml")) as f:
        manifest = yaml.safe_load(f)
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayService")
    (application,) = yaml.safe_load(manifest["spec"]["serveConfigV2"])["applications"]
    module, _, attr = application["import_path"].partition(":")
    builder = getattr(importlib.import_module(module), attr)
    args = ServeArgs(**application["args"])
    assert args.num_gpus == 1 and args.min_replicas < args.max_replicas
    deployment = builder(args)._bound_deployment
    assert deployment.name == DroverWorker.name
    assert deployment.ray_actor_options == {"num_gpus": 1.0, "num_cpus": 4.0}
    assert deployment._deployment_config.autoscaling_config.max_replicas == 4
