"""LoRA adapters as model versions, end to end: a real worker with two random adapters.

The adapters are made by the ``lora_root`` fixture with peft and saved the way Drover's
trainer saves them (``pytorch_lora_weights.safetensors``).
"""

from __future__ import annotations

import threading

import pytest

from conftest import (BATCH_TOLERANCE, DIFFERENT_SEED_MIN_DIFF, SMALL, assert_error,
                      max_pixel_diff, poll_until)
from drover_worker.adapters import AdapterConfigError, ModelCatalog, find_adapters
from drover_worker.api import ApiError

BASE = "tiny-sd"


@pytest.fixture(scope="session")
def lora_worker(worker_factory, lora_root):
    """A worker serving the tiny model as ``tiny-sd`` plus adapters ``style-a``, ``style-b``."""
    return worker_factory("--served-model-name", BASE, "--lora-dir", lora_root,
                          "--max-batch", "8", "--batch-wait-ms", "250", "--default-steps", "2")


def image(worker, **body) -> str:
    status, resp = worker.generate(**body)
    assert status == 200, resp
    assert resp["model"] == body.get("model", resp["model"])
    return resp["data"][0]["b64_json"]


def metric(worker, name: str) -> float:
    status, text = worker.request("GET", "/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


# ---- which models exist -------------------------------------------------------------------
def test_models_lists_base_and_adapters(lora_worker):
    status, body = lora_worker.request("GET", "/v1/models")
    assert status == 200 and body["object"] == "list"
    assert [(m["id"], m["parent"]) for m in body["data"]] == [
        (BASE, None), ("style-a", BASE), ("style-b", BASE)]
    assert lora_worker.health()["adapters"] == ["style-a", "style-b"]


def test_unknown_model_is_404_model_not_found(lora_worker):
    status, resp = lora_worker.generate(prompt="x", model="style-c", **SMALL)
    assert_error(status, resp, 404, param="model", code="model_not_found")


# ---- what an adapter does -----------------------------------------------------------------
def test_adapter_changes_the_image_and_base_name_gives_base_bit_for_bit(lora_worker, worker):
    req = dict(prompt="a red barn", seed=11, **SMALL)
    plain = image(worker, **req)  # a worker without any adapter loaded
    base = image(lora_worker, model=BASE, **req)
    a = image(lora_worker, model="style-a", **req)
    b = image(lora_worker, model="style-b", **req)
    base_again = image(lora_worker, **req)  # no model: the base model, after switching back
    a_again = image(lora_worker, model="style-a", **req)
    assert base == plain and base_again == plain  # identical PNG bytes
    assert a == a_again
    assert max_pixel_diff(a, base) > DIFFERENT_SEED_MIN_DIFF
    assert max_pixel_diff(b, base) > DIFFERENT_SEED_MIN_DIFF
    assert max_pixel_diff(a, b) > DIFFERENT_SEED_MIN_DIFF


def test_switching_is_measured(lora_worker):
    image(lora_worker, prompt="x", model=BASE, seed=1, **SMALL)
    before = metric(lora_worker, "drover_worker_adapter_switch_seconds_count")
    image(lora_worker, prompt="x", model="style-a", seed=1, **SMALL)
    image(lora_worker, prompt="x", model="style-b", seed=1, **SMALL)
    image(lora_worker, prompt="x", model="style-b", seed=2, **SMALL)  # no switch
    assert metric(lora_worker, "drover_worker_adapter_switch_seconds_count") - before == 2
    assert metric(lora_worker, "drover_worker_adapter_switch_seconds_sum") > 0


# ---- batching per adapter -----------------------------------------------------------------
def test_requests_batch_per_adapter_and_equal_their_alone_images(lora_worker):
    w = lora_worker
    bodies = [dict(prompt="a cat", model="style-a", seed=100, n=2, **SMALL),
              dict(prompt="a cat", model="style-b", seed=100, n=1, **SMALL),
              dict(prompt="a dog", model="style-a", seed=200, n=1, **SMALL),
              dict(prompt="a dog", model=BASE, seed=200, n=1, **SMALL),
              dict(prompt="a fish", model="style-b", seed=300, n=2, **SMALL)]
    results = [None] * len(bodies)
    # Keep the pipeline busy with a full batch of other settings, so every request below
    # is queued before the next call is collected.
    blocker = {}
    t_block = threading.Thread(target=lambda: blocker.update(r=w.generate(
        prompt="busy", n=8, seed=0, size="64x64", num_inference_steps=40)))
    t_block.start()
    poll_until(lambda: w.health()["in_flight"] == 8)
    calls_before = w.health()["pipeline_calls"]

    def send(i):
        results[i] = w.generate(**bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    poll_until(lambda: w.health()["queue_depth"] == len(bodies))
    assert w.health()["pipeline_calls"] == calls_before, "the blocker ended too early"
    for t in [t_block, *threads]:
        t.join(timeout=120)
    assert blocker["r"][0] == 200
    assert all(r is not None and r[0] == 200 for r in results), results
    # one call each for style-a, style-b and the base model, after the blocker's
    assert w.health()["pipeline_calls"] - calls_before == 1 + 3

    for body, (_, resp) in zip(bodies, results):
        assert resp["model"] == body["model"]
        status, alone = w.generate(**body)
        assert status == 200
        for got, ref in zip(resp["data"], alone["data"]):
            assert max_pixel_diff(got["b64_json"], ref["b64_json"]) <= BATCH_TOLERANCE
    # a mix-up would show: the same prompt and seed under two adapters differ widely
    assert max_pixel_diff(results[0][1]["data"][0]["b64_json"],
                          results[1][1]["data"][0]["b64_json"]) > DIFFERENT_SEED_MIN_DIFF


# ---- the adapter list and names (no torch) -------------------------------------------------
def touch_adapter(path):
    path.mkdir(parents=True)
    (path / "pytorch_lora_weights.safetensors").write_bytes(b"")
    return str(path)


def test_find_adapters_from_flags_and_directories(tmp_path):
    one = touch_adapter(tmp_path / "single")
    touch_adapter(tmp_path / "root" / "v2")
    touch_adapter(tmp_path / "root" / "v1")
    (tmp_path / "root" / "README.md").write_text("not an adapter")
    found = find_adapters([("v0", one)], [str(tmp_path / "root")], base_name="base")
    assert found == {"v0": one, "v1": str(tmp_path / "root" / "v1"),
                     "v2": str(tmp_path / "root" / "v2")}


@pytest.mark.parametrize("loras,message", [
    ([("base", "X")], "base model"),
    ([("a b", "X")], "letters"),
    ([("v1", "X"), ("v1", "X")], "twice"),
    ([("v1", "/no/such/dir")], "pytorch_lora_weights"),
])
def test_find_adapters_refuses_bad_input(tmp_path, loras, message):
    good = touch_adapter(tmp_path / "good")
    loras = [(name, good if d == "X" else d) for name, d in loras]
    with pytest.raises(AdapterConfigError, match=message):
        find_adapters(loras, [], base_name="base")


def test_catalog_resolves_names():
    catalog = ModelCatalog("base", ("v1",), created=1)
    assert catalog.resolve(None) is None and catalog.resolve("base") is None
    assert catalog.resolve("v1") == "v1"
    with pytest.raises(ApiError) as info:
        catalog.resolve("v2")
    assert (info.value.status, info.value.param, info.value.code) == (404, "model", "model_not_found")
