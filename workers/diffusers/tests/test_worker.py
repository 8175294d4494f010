"""End-to-end tests: a real ``python -m drover_worker`` (uvicorn) subprocess on a tiny random model.

Batched-vs-alone comparisons use a TOLERANCE: the same seed gives the same latents
whatever the batch, but CPU convolutions/matmuls over a different batch size may
round floats differently, which can move a pixel by one step of 0..255 (measured:
max difference 1).  Same request made the same way twice must match bit for bit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from conftest import (BATCH_TOLERANCE, DIFFERENT_SEED_MIN_DIFF, SMALL, WORKER_ROOT, assert_error,
                      decode_png, max_pixel_diff, poll_until, worker_env)


def run_concurrently(worker, bodies):
    """Send all bodies at once from threads (released together); return results in order."""
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def send(i):
        barrier.wait(timeout=30)
        results[i] = worker.generate(**bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(not t.is_alive() for t in threads)
    return results


# ---- health and basic generation ------------------------------------------------------------
def test_healthz(worker, tiny_model_dir):
    h = worker.health()
    assert h["status"] == "ok"
    assert h["model"] == tiny_model_dir and h["adapters"] == []
    assert (h["device"], h["dtype"]) == ("cpu", "float32")
    assert (h["max_batch"], h["batch_wait_ms"]) == (8, 250)
    for field in ("queue_depth", "pipeline_calls", "images_generated"):
        assert isinstance(h[field], int) and h[field] >= 0


def test_generation_returns_n_pngs_of_requested_size(worker, tiny_model_dir):
    before = worker.health()
    status, body = worker.generate(prompt="a red cat", n=3, size="64x128", seed=5,
                                   num_inference_steps=2)
    assert status == 200, body
    assert body["model"] == tiny_model_dir
    assert isinstance(body["created"], int) and body["created"] > 1_600_000_000
    assert (body["width"], body["height"], body["num_inference_steps"]) == (64, 128, 2)
    assert body["guidance_scale"] == 7.5
    assert len(body["data"]) == 3
    for i, item in enumerate(body["data"]):
        assert item["seed"] == 5 + i
        assert item["nsfw_content_detected"] is None  # no safety checker loaded
        assert decode_png(item["b64_json"]).size == (64, 128)  # PIL size is (width, height)
    after = worker.health()
    assert after["images_generated"] - before["images_generated"] == 3
    assert after["pipeline_calls"] - before["pipeline_calls"] == 1


def test_defaults_and_random_seed(worker):
    status, body = worker.generate(prompt="a dog", size="64x64")
    assert status == 200, body
    assert body["num_inference_steps"] == 2  # --default-steps 2
    assert len(body["data"]) == 1
    seed = body["data"][0]["seed"]
    assert isinstance(seed, int) and seed >= 0
    # The reported seed really is the one used: asking for it again gives the same image.
    status2, body2 = worker.generate(prompt="a dog", size="64x64", seed=seed)
    assert status2 == 200
    assert body2["data"][0]["b64_json"] == body["data"][0]["b64_json"]


# ---- determinism ----------------------------------------------------------------------------
def test_same_seed_same_bytes_different_seed_different_image(worker):
    s1, a = worker.generate(prompt="a blue house", seed=1234, **SMALL)
    s2, b = worker.generate(prompt="a blue house", seed=1234, **SMALL)
    s3, c = worker.generate(prompt="a blue house", seed=1235, **SMALL)
    assert (s1, s2, s3) == (200, 200, 200)
    assert a["data"][0]["b64_json"] == b["data"][0]["b64_json"]  # identical PNG bytes
    assert max_pixel_diff(a["data"][0]["b64_json"], c["data"][0]["b64_json"]) > DIFFERENT_SEED_MIN_DIFF


def test_image_i_uses_seed_plus_i(worker):
    status, multi = worker.generate(prompt="a tree", n=2, seed=77, **SMALL)
    assert status == 200
    _, alone = worker.generate(prompt="a tree", n=1, seed=78, **SMALL)
    # batched (2 images) vs alone: tolerance, see module docstring
    assert max_pixel_diff(multi["data"][1]["b64_json"], alone["data"][0]["b64_json"]) <= BATCH_TOLERANCE
    assert max_pixel_diff(multi["data"][0]["b64_json"], alone["data"][0]["b64_json"]) > DIFFERENT_SEED_MIN_DIFF


def test_negative_prompt_changes_image(worker):
    _, plain = worker.generate(prompt="a boat", seed=3, **SMALL)
    _, neg = worker.generate(prompt="a boat", seed=3, negative_prompt="water", **SMALL)
    assert max_pixel_diff(plain["data"][0]["b64_json"], neg["data"][0]["b64_json"]) > 0


# ---- dynamic batching -----------------------------------------------------------------------
def test_concurrent_compatible_requests_share_pipeline_calls(worker):
    bodies = [dict(prompt=p, seed=100 + 10 * i, n=n, **SMALL)
              for i, (p, n) in enumerate([("a cat", 1), ("a dog", 2), ("a fish", 1), ("a bird", 1)])]
    before = worker.health()["pipeline_calls"]
    # Keep the pipeline busy with a full batch of other settings (8 images, 20 steps) so
    # the concurrent requests are all queued together even if some thread starts late.
    blocker = {}
    t = threading.Thread(target=lambda: blocker.update(r=worker.generate(
        prompt="busy", n=8, seed=0, size="64x64", num_inference_steps=20)))
    t.start()
    poll_until(lambda: worker.health()["in_flight"] == 8)
    results = run_concurrently(worker, bodies)
    t.join(timeout=120)
    assert blocker["r"][0] == 200
    calls = worker.health()["pipeline_calls"] - before - 1  # minus the blocker's call
    assert all(status == 200 for status, _ in results), results
    assert calls < len(bodies), f"{len(bodies)} concurrent requests took {calls} pipeline calls"

    for body, (_, resp) in zip(bodies, results):
        assert [d["seed"] for d in resp["data"]] == [body["seed"] + i for i in range(body["n"])]
        status, alone = worker.generate(**body)  # the same request made alone
        assert status == 200
        for got, ref in zip(resp["data"], alone["data"]):
            # each request got its own images (tolerance: batching may change float rounding)
            assert max_pixel_diff(got["b64_json"], ref["b64_json"]) <= BATCH_TOLERANCE
    # and they are not each other's: different prompts/seeds are far apart
    first = results[0][1]["data"][0]["b64_json"]
    assert all(max_pixel_diff(first, r[1]["data"][0]["b64_json"]) > DIFFERENT_SEED_MIN_DIFF
               for r in results[1:])


def test_incompatible_requests_are_not_mixed(slow_window_worker, worker):
    w = slow_window_worker
    # Two settings groups (2 vs 3 steps) of 4 images each (= --max-batch 4), arriving
    # interleaved A1, B1, A2, B2.  A correct batcher runs [A1+A2] and [B1+B2]; one that
    # mixed settings would put B1 into A's call and B1's images would be wrong.
    a1 = dict(prompt="a cat", seed=1, n=2, size="64x64", num_inference_steps=2)
    b1 = dict(prompt="a cat", seed=1, n=2, size="64x64", num_inference_steps=3)
    a2 = dict(prompt="a dog", seed=9, n=2, size="64x64", num_inference_steps=2)
    b2 = dict(prompt="a dog", seed=9, n=2, size="64x64", num_inference_steps=3)
    bodies = [a1, b1, a2, b2]
    results = [None] * 4
    before = w.health()["pipeline_calls"]

    def send(i):
        results[i] = w.generate(**bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    threads[0].start()
    poll_until(lambda: w.health()["in_flight"] >= 1)  # A1 taken; its 5 s window is open
    threads[1].start()

    def b1_arrived():
        h = w.health()
        return h["queue_depth"] >= 1 or h["in_flight"] >= 3 or h["pipeline_calls"] > before

    poll_until(b1_arrived)
    threads[2].start()
    # A2 completes A's batch (4 images), so a call starts; only then send B2 (sending
    # both at once could queue B2 before A2 and overflow --max-queue 2).
    poll_until(lambda: w.health()["in_flight"] == 4 or w.health()["pipeline_calls"] > before)
    threads[3].start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and r[0] == 200 for r in results), results
    assert w.health()["pipeline_calls"] - before == 2  # one full call per settings group
    for body, (_, resp) in zip(bodies, results):
        assert resp["num_inference_steps"] == body["num_inference_steps"]
        _, alone = worker.generate(**body)  # same model, same request, alone (other worker)
        for got, ref in zip(resp["data"], alone["data"]):
            assert max_pixel_diff(got["b64_json"], ref["b64_json"]) <= BATCH_TOLERANCE
    # 2 vs 3 steps really give different images, so a mix-up would have been caught
    assert max_pixel_diff(results[0][1]["data"][0]["b64_json"],
                          results[1][1]["data"][0]["b64_json"]) > DIFFERENT_SEED_MIN_DIFF


def test_queue_full_answers_503(slow_window_worker):
    w = slow_window_worker
    held = {}

    def send(name, **body):
        held[name] = w.generate(**body)

    # 1 image: the worker takes it and waits up to 5 s for companions (none come).
    t1 = threading.Thread(target=send, args=("first",),
                          kwargs=dict(prompt="x", seed=1, n=1, size="64x64"))
    t1.start()
    poll_until(lambda: w.health()["in_flight"] == 1 and w.health()["queue_depth"] == 0)
    # Two incompatible full batches now wait in the queue (max 2).
    waiting = [threading.Thread(target=send, args=(f"q{i}",),
                                kwargs=dict(prompt="y", seed=i, n=4, size="128x64"))
               for i in range(2)]
    for t in waiting:
        t.start()
    poll_until(lambda: w.health()["queue_depth"] == 2)
    status, body = w.generate(prompt="z", size="64x64")
    assert_error(status, body, 503, param=None, type_="server_busy")
    for t in [t1, *waiting]:
        t.join(timeout=120)
    assert held["first"][0] == 200
    assert all(held[f"q{i}"][0] == 200 and len(held[f"q{i}"][1]["data"]) == 4 for i in range(2))
    assert w.health()["queue_depth"] == 0


# ---- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("body,param", [
    ({"size": "64x64"}, "prompt"),
    ({"prompt": "", "size": "64x64"}, "prompt"),
    ({"prompt": "x", "n": 0}, "n"),
    ({"prompt": "x", "n": 99}, "n"),
    ({"prompt": "x", "size": "100x100"}, "size"),
    ({"prompt": "x", "size": "big"}, "size"),
    ({"prompt": "x", "size": "4096x4096"}, "size"),
    ({"prompt": "x", "response_format": "url"}, "response_format"),
    ({"prompt": "x", "seed": -5}, "seed"),
    ({"prompt": "x", "num_inference_steps": 500}, "num_inference_steps"),
    ({"prompt": "x", "guidance_scale": 99}, "guidance_scale"),
])
def test_bad_fields_get_400(worker, body, param):
    before = worker.health()["pipeline_calls"]
    status, resp = worker.generate(**body)
    assert_error(status, resp, 400, param=param)
    assert worker.health()["pipeline_calls"] == before  # nothing was generated


def test_bad_json_gets_400(worker):
    status, resp = worker.request("POST", "/v1/images/generations", raw=b'{"prompt": "x",')
    assert_error(status, resp, 400, param=None)
    status, resp = worker.request("POST", "/v1/images/generations", raw=b'["prompt"]')
    assert_error(status, resp, 400, param=None)


def test_huge_body_gets_413(worker):
    raw = b'{"prompt": "' + b"a" * (200 * 1024) + b'"}'
    status, resp = worker.request("POST", "/v1/images/generations", raw=raw)
    assert_error(status, resp, 413, param=None)


def test_non_json_content_type_gets_415(worker):
    status, resp = worker.request("POST", "/v1/images/generations", raw=b"prompt=x",
                                  content_type="application/x-www-form-urlencoded")
    assert_error(status, resp, 415)
    status, resp = worker.request("POST", "/v1/images/generations", raw=b'{"prompt":"x"}',
                                  content_type=None)
    assert_error(status, resp, 415)


def test_unknown_model_gets_404_model_not_found(worker, tiny_model_dir):
    before = worker.health()["pipeline_calls"]
    status, resp = worker.generate(prompt="x", model="whatever", **SMALL)
    assert_error(status, resp, 404, param="model", code="model_not_found")
    assert "whatever" in resp["error"]["message"]
    assert worker.health()["pipeline_calls"] == before
    status, resp = worker.generate(prompt="x", model=tiny_model_dir, seed=1, **SMALL)
    assert status == 200 and resp["model"] == tiny_model_dir


def test_models_lists_the_base_model(worker, tiny_model_dir):
    status, body = worker.request("GET", "/v1/models")
    assert status == 200
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        (tiny_model_dir, "model", "drover")]
    assert isinstance(body["data"][0]["created"], int)


def test_metrics_count_images_batches_and_waits(worker):
    def sample(text, name):
        lines = [line for line in text.splitlines() if line.startswith(name + " ")
                 or line.startswith(name + "{")]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    status, before = worker.request("GET", "/metrics")
    assert status == 200
    status, _ = worker.generate(prompt="metrics", n=3, seed=1, **SMALL)
    assert status == 200
    _, after = worker.request("GET", "/metrics")
    for name, delta in [("drover_worker_images_generated_total", 3),
                        ("drover_worker_batch_images_sum", 3),
                        ("drover_worker_batch_images_count", 1),
                        ("drover_worker_queue_wait_seconds_count", 1),
                        ("drover_worker_step_seconds_count", 1)]:
        assert sample(after, name) - sample(before, name) == delta, name
    assert sample(after, "drover_worker_step_seconds_sum") > sample(before, "drover_worker_step_seconds_sum")
    assert "drover_worker_queue_depth 0.0" in after


def test_chunked_body_is_read_within_the_limit(worker):
    import http.client

    def send_chunked(payload: bytes):
        conn = http.client.HTTPConnection(worker.host, worker.port, timeout=120)
        try:
            conn.request("POST", "/v1/images/generations", body=iter([payload]),
                         headers={"Content-Type": "application/json"}, encode_chunked=True)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    status, body = send_chunked(json.dumps(dict(prompt="chunked", seed=1, **SMALL)).encode())
    assert status == 200 and len(body["data"]) == 1
    status, body = send_chunked(b'{"prompt": "' + b"a" * (200 * 1024) + b'"}')
    assert_error(status, body, 413, param=None)


def test_unknown_route_404_and_wrong_method_405(worker):
    status, resp = worker.request("GET", "/v1/nope")
    assert_error(status, resp, 404)
    status, resp = worker.request("POST", "/v1/images/edits", {"prompt": "x"})
    assert_error(status, resp, 404)
    status, resp = worker.request("GET", "/v1/images/generations")
    assert_error(status, resp, 405)
    status, resp = worker.request("DELETE", "/healthz")
    assert_error(status, resp, 405)
    status, resp = worker.request("POST", "/v1/models", {})
    assert_error(status, resp, 405)


def test_still_healthy_and_correct_after_bad_requests(worker):
    # runs after the bad-input tests above (file order)
    assert worker.proc.poll() is None
    assert worker.health()["status"] == "ok"
    status, body = worker.generate(prompt="still works", seed=1, **SMALL)
    assert status == 200 and decode_png(body["data"][0]["b64_json"]).size == (64, 64)


# ---- startup failure ------------------------------------------------------------------------
def test_model_load_failure_exits_nonzero(tmp_path):
    missing = str(tmp_path / "no-such-model")
    proc = subprocess.run(
        [sys.executable, "-m", "drover_worker", "--model", missing, "--device", "cpu",
         "--port", "0"],
        cwd=WORKER_ROOT, env=worker_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode != 0
    assert "cannot load model" in proc.stderr and missing in proc.stderr


def test_bad_adapter_dir_exits_nonzero(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty-adapter"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "drover_worker", "--model", tiny_model_dir, "--device", "cpu",
         "--port", "0", "--lora", f"style={empty}"],
        cwd=WORKER_ROOT, env=worker_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2
    assert "pytorch_lora_weights.safetensors" in proc.stderr and "'style'" in proc.stderr


# ---- bearer key -----------------------------------------------------------------------------
def test_api_key_from_environment_is_required(worker_factory):
    w = worker_factory("--default-steps", "1", env={"DROVER_WORKER_API_KEY": "s3cret-key"})
    status, resp = w.generate(prompt="x", **SMALL)
    assert_error(status, resp, 401, param=None, code="invalid_api_key")
    status, resp = w.request("POST", "/v1/images/generations", dict(prompt="x", **SMALL),
                             headers={"Authorization": "Bearer wrong"})
    assert_error(status, resp, 401, param=None, code="invalid_api_key")
    status, resp = w.request("GET", "/v1/models", headers={"Authorization": "Bearer wrong"})
    assert status == 401
    status, resp = w.request("POST", "/v1/images/generations", dict(prompt="x", seed=1, **SMALL),
                             headers={"Authorization": "Bearer s3cret-key"})
    assert status == 200 and len(resp["data"]) == 1
    assert w.health()["status"] == "ok"  # health stays open for load balancers
    assert "s3cret-key" not in w.log()


# ---- deadline -------------------------------------------------------------------------------
def test_request_past_its_deadline_gets_504_and_leaves_the_queue(worker_factory):
    w = worker_factory("--max-batch", "4", "--batch-wait-ms", "3000", "--request-timeout-s", "1",
                       "--default-steps", "2")
    answers = {}

    def send(name, **body):
        answers[name] = w.generate(**body)

    # A is taken by the batcher, which then waits 3 s for companions; B (other size) queues.
    t_a = threading.Thread(target=send, args=("a",), kwargs=dict(prompt="a", seed=1, size="64x64"))
    t_a.start()
    poll_until(lambda: w.health()["in_flight"] == 1)
    t_b = threading.Thread(target=send, args=("b",), kwargs=dict(prompt="b", seed=1, size="128x64"))
    t_b.start()
    for t in (t_a, t_b):
        t.join(timeout=60)
    for name in ("a", "b"):
        assert_error(*answers[name], 504, param=None, type_="server_error", code="timeout")
    # A had started, so it still runs; B had not, so it was dropped and never runs.
    poll_until(lambda: w.health()["pipeline_calls"] == 1 and w.health()["in_flight"] == 0)
    h = w.health()
    assert (h["queue_depth"], h["images_generated"]) == (0, 1)
