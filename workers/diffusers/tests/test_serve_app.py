"""The worker on Ray Serve, for real, with the real Drover in front of it.

A local Ray cluster on the CPU runs two replicas of ``serve_app`` on the tiny random pipeline
(``tests/ray_cluster.py``), and ``drover serve`` (the binary ``swift build`` makes; scripts/test
builds it first) runs with ``DROVER_GENERATOR=openai DROVER_GENERATOR_URL=<Ray's URL>``.  The
load is ``POST /api/generations`` to Drover; what Ray did is checked without Drover: each
replica's ``/healthz`` (reached through Ray's proxy, which names the replica in the
``x-drover-replica`` header) counts the images it made, and Ray's proxy logs one line per answer
it gave.  When a replica is killed, Ray answers 500 or cuts the connection for the requests that
were running on it; Drover (``BackendConnection``) tries each of them again, with the same seed.
"""

from __future__ import annotations

import glob
import http.client
import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from typing import Dict, List, Tuple

import pytest
from PIL import Image

from conftest import WORKER_ROOT, Worker, free_port, poll_until

pytest.importorskip("ray.serve")

API_KEY = "ray-test-key"
MODEL = "tiny-sd"
REPLICA_HEADER = "x-drover-replica"
CLUSTER_DEADLINE_S = 300.0
#: Generations Drover sends to Ray at once (DROVER_GENERATOR_CONCURRENCY): enough to keep both
#: replicas' batchers busy (--max-batch 4 each).
DROVER_CONCURRENCY = 8
DROVER_BINARY = os.environ.get(
    "DROVER_BINARY", os.path.join(WORKER_ROOT, "..", "..", ".build", "debug", "drover"))


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

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def session_dir(self) -> str:
        (line,) = [ln for ln in self.log().splitlines() if ln.startswith("SESSION ")]
        return line.split(" ", 1)[1]

    def proxy_tries(self) -> List[Tuple[int, bool]]:
        """Each ``POST /v1/images/generations`` Ray's proxy answered, in order: its status and
        whether it failed.  A try whose replica died fails with a 500, or, if the replica had
        already begun its answer, with a 200 cut short: the proxy logs the request id's status
        line after a ``Request failed`` line for it."""
        text = ""
        for path in sorted(glob.glob(os.path.join(self.session_dir, "logs", "serve", "proxy_*.log"))):
            with open(path, encoding="utf-8", errors="replace") as f:
                text += f.read()
        failed_ids = set(re.findall(r" ([0-9a-f-]{36}) -- Request failed", text))
        return [(int(status), status != "200" or request_id in failed_ids) for request_id, status in
                re.findall(r" ([0-9a-f-]{36}) -- POST /v1/images/generations (\d{3}) ", text)]

    def replicas(self, want: int, deadline_s: float = 60.0,
                 exclude: frozenset = frozenset()) -> Dict[str, dict]:
        """``/healthz`` of ``want`` replicas not in ``exclude``, asked through Ray's proxy
        (which chooses the replica) until that many different ones have answered."""
        seen: Dict[str, dict] = {}
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                body = resp.read()
                replica = resp.getheader(REPLICA_HEADER)
                if resp.status == 200 and replica and replica not in exclude:
                    seen[replica] = json.loads(body)
            except (OSError, http.client.HTTPException, ValueError):
                pass  # a replica being killed or replaced; ask again
            finally:
                conn.close()
            if len(seen) >= want:
                return seen
            time.sleep(0.02)
        raise AssertionError(f"only {sorted(seen)} of {want} replicas answered in {deadline_s}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().stop()


class Drover(Worker):
    """``drover serve`` on a free port, generating through ``generator_url``."""

    def __init__(self, log_path: str, data_dir: str, generator_url: str):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log_path = log_path
        self.data_dir = data_dir
        self._log = open(log_path, "wb")
        # Nothing from the caller's Drover, Slack or Oxen settings: a dataset remote or a Slack
        # token there must not reach this server.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DROVER_", "SLACK_", "OXEN_"))}
        env.update(DROVER_DATA_DIR=data_dir, DROVER_HOST=self.host, DROVER_PORT=str(self.port),
                   DROVER_GENERATOR="openai", DROVER_GENERATOR_URL=generator_url,
                   DROVER_GENERATOR_MODEL=MODEL, DROVER_GENERATOR_API_KEY=API_KEY,
                   DROVER_GENERATOR_CONCURRENCY=str(DROVER_CONCURRENCY),
                   DROVER_GENERATOR_QUEUE="64", DROVER_GENERATOR_TIMEOUT_S="120",
                   LOG_LEVEL="warning")
        self.proc = subprocess.Popen([DROVER_BINARY, "serve"], cwd=data_dir, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def generate(self, prompt: str, seed: int, n: int = 1) -> Tuple[int, dict]:
        """``POST /api/generations``: ``(status, body)``."""
        return self.request("POST", "/api/generations",
                            {"prompt": prompt, "seed": seed, "n": n, "width": 64, "height": 64,
                             "steps": 2}, timeout=180)

    def request(self, method: str, path: str, body=None, *, raw_answer: bool = False,
                timeout: float = 60.0):
        """One request; ``(status, JSON)``, or ``(status, bytes)`` with ``raw_answer``."""
        if not raw_answer:
            return super().request(method, path, body, timeout=timeout)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def committed_images(self) -> set:
        """The image ids that commits of the dataset have added."""
        out = subprocess.run(["git", "-C", os.path.join(self.data_dir, "dataset"), "log",
                              "--format=", "--name-only", "--diff-filter=A", "--", "images"],
                             check=True, capture_output=True, text=True).stdout
        return {os.path.basename(line)[:-len(".png")] for line in out.split()
                if line.startswith("images/") and line.endswith(".png")}

    def provenance(self) -> Dict[str, dict]:
        """``annotations/images/<shard>/<first three>.jsonl`` of the dataset's working tree, by image id."""
        folder = os.path.join(self.data_dir, "dataset", "annotations", "images")
        rows = {}
        for path in sorted(glob.glob(os.path.join(folder, "*", "*.jsonl"))):
            with open(path, encoding="utf-8") as f:
                rows.update({row["id"]: row for row in map(json.loads, f) if row})
        return rows

    def wait_committed(self, image_ids, deadline_s: float = 60.0) -> None:
        poll_until(lambda: set(image_ids) <= self.committed_images(), deadline_s=deadline_s)

    def stop(self) -> None:
        super().stop()
        assert self.proc.returncode == 0, self.log()  # SIGTERM: a graceful stop


@pytest.fixture(scope="module")
def cluster(tiny_model_dir, tmp_path_factory):
    args = f"--model {tiny_model_dir} --served-model-name {MODEL} --device cpu " \
           f"--default-steps 2 --max-batch 4 --batch-wait-ms 20"
    c = RayCluster(str(tmp_path_factory.mktemp("ray") / "driver.log"),
                   [sys.executable, os.path.join("tests", "ray_cluster.py"), "{port}", "2", args],
                   env={"DROVER_WORKER_API_KEY": API_KEY, "RAY_USAGE_STATS_ENABLED": "0"},
                   stdin=subprocess.PIPE)
    try:
        c.wait_for_line("READY")
        yield c
    finally:
        c.stop()


#: The tests that need Drover; without its binary they are skipped before Ray is started.
needs_drover = pytest.mark.skipif(
    not os.access(DROVER_BINARY, os.X_OK),
    reason=f"{os.path.normpath(DROVER_BINARY)} is not built: run `swift build` in the repository "
           f"root first (scripts/test does)")


@pytest.fixture(scope="module")
def drover(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("drover")
    d = Drover(str(root / "drover.log"), str(root), cluster.url)
    try:
        health = d.wait_ready(deadline_s=60)
        assert [v["backend"] for v in health["generator"]["versions"]] == ["openai"], health
        yield d
    finally:
        d.stop()


class Load:
    """``POST /api/generations`` to Drover for each seed, all at once (one thread each)."""

    def __init__(self, drover: Drover, seeds: List[int]):
        self.results: Dict[int, Tuple[int, dict]] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._one, args=(drover, s)) for s in seeds]
        for t in self.threads:
            t.start()

    def _one(self, drover: Drover, seed: int) -> None:
        try:
            result = drover.generate(f"load {seed}", seed)
        except (OSError, http.client.HTTPException) as exc:
            result = (0, {"error": repr(exc)})
        with self.lock:
            self.results[seed] = result

    @property
    def done(self) -> int:
        with self.lock:
            return len(self.results)

    def finish(self) -> Dict[int, Tuple[int, dict]]:
        for t in self.threads:
            t.join(timeout=CLUSTER_DEADLINE_S)
        assert not any(t.is_alive() for t in self.threads)
        return self.results


def images_made(replicas: Dict[str, dict]) -> Dict[str, int]:
    return {r: h["images_generated"] for r, h in replicas.items()}


@needs_drover
def test_drover_generates_through_ray_and_load_is_spread(cluster, drover):
    before = images_made(cluster.replicas(2))

    status, body = drover.generate("a ray of light", seed=7, n=2)
    assert status == 201, body
    first = [image["id"] for image in body["images"]]
    assert len(first) == 2
    status, png = drover.request("GET", body["images"][0]["url"], raw_answer=True)
    assert status == 200 and Image.open(io.BytesIO(png)).size == (64, 64)

    results = Load(drover, list(range(1000, 1016))).finish()
    assert {s: status for s, (status, _) in results.items()} == {s: 201 for s in range(1000, 1016)}
    ids = first + [body["images"][0]["id"] for _, body in results.values()]

    after = images_made(cluster.replicas(2))
    assert set(after) == set(before)
    made = {r: after[r] - before[r] for r in after}
    assert all(n > 0 for n in made.values()), made  # both replicas made images for Drover
    assert sum(made.values()) == 18, made  # and nothing was made twice: no retry was needed
    poll_until(lambda: len(cluster.proxy_tries()) >= 17, deadline_s=30)
    tries = cluster.proxy_tries()
    assert len(tries) == 17 and not any(failed for _, failed in tries), tries

    drover.wait_committed(ids)
    rows = drover.provenance()
    assert [rows[i]["seed"] for i in first] == [7, 8]
    assert all(rows[i]["model"] == MODEL and rows[i]["backend"] == "openai" for i in ids)
    print(f"\nray: 18 images from Drover's 17 generations, per replica {made}", file=sys.stderr)


@needs_drover
def test_killed_replica_is_replaced_and_no_request_is_lost(cluster, drover):
    before = cluster.replicas(2)
    tries_before = len(cluster.proxy_tries())
    seeds = list(range(5000, 5024))

    load = Load(drover, seeds)
    poll_until(lambda: load.done >= 4, deadline_s=CLUSTER_DEADLINE_S)
    # Kill a replica while it holds at least two of Drover's requests (queued or generating).
    busy: List[str] = []

    def a_replica_is_busy() -> bool:
        held = {r: h["queue_depth"] + h["in_flight"] for r, h in cluster.replicas(2).items()}
        busy[:] = [r for r, n in held.items() if n >= 2]
        return bool(busy)

    poll_until(a_replica_is_busy, deadline_s=60)
    victim = busy[0]
    cluster.send(f"kill {victim}")
    cluster.wait_for_line("KILLED")
    results = load.finish()

    # No generation is lost: each is a 201 with its image, tried again by Drover where Ray failed it.
    lost = {s: r for s, r in results.items() if r[0] != 201}
    assert not lost, lost
    ids = [body["images"][0]["id"] for _, body in results.values()]
    assert len(set(ids)) == len(seeds)

    # Ray's proxy logs each try once, maybe after the answer: wait until every generation's
    # successful try is logged. The tries beyond one per generation are Drover's retries.
    poll_until(lambda: sum(not failed for _, failed in cluster.proxy_tries()[tries_before:]) >= len(seeds), deadline_s=30)
    tries = cluster.proxy_tries()[tries_before:]
    retried = len(tries) - len(seeds)
    failed = [status for status, failed in tries if failed]
    assert retried >= 1, f"the kill failed no request in flight: {tries}"

    drover.wait_committed(ids)
    rows = drover.provenance()
    assert sorted(rows[i]["seed"] for i in ids) == seeds  # a retry makes the image of its seed

    # Ray replaces the replica: a new one answers, and makes images for Drover.
    (replacement,) = cluster.replicas(1, deadline_s=CLUSTER_DEADLINE_S, exclude=frozenset(before))
    survivor = next(r for r in before if r != victim)

    after_seeds = itertools.count(9000)

    def replacement_generates() -> bool:
        status, _ = drover.generate("after the kill", seed=next(after_seeds))
        assert status == 201
        now = cluster.replicas(2, exclude=frozenset([victim]))
        return set(now) == {survivor, replacement} and now[replacement]["images_generated"] > 0

    poll_until(replacement_generates, deadline_s=120)
    print(f"\nray: {len(tries)} tries by Ray's proxy for {len(seeds)} generations to Drover, "
          f"all answered 201: {retried} retried by Drover; Ray's log shows {len(failed)} failed "
          f"({failed.count(500)} answered 500, {failed.count(200)} cut short after a 200 head)",
          file=sys.stderr)


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
