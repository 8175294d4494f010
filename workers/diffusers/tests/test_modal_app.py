"""``modal_app.py`` without Modal's cloud: it imports with the ``modal`` package, defines
its app and class as Modal documents them, and serves the worker's own ASGI app."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from conftest import SMALL, WORKER_ROOT, Worker, assert_error, decode_png

modal = pytest.importorskip("modal")


def import_modal_app(monkeypatch, **env):
    """Import ``modal_app.py`` afresh with deploy-time settings in the environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("modal_app_under_test",
                                                  os.path.join(WORKER_ROOT, "modal_app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_and_class_are_defined_as_documented(monkeypatch):
    from modal._utils.async_utils import synchronizer

    mod = import_modal_app(monkeypatch, DROVER_MODAL_GPU="A100", DROVER_MODAL_SCALEDOWN_S="120",
                           DROVER_MODAL_MAX_INPUTS="16",
                           DROVER_MODAL_WORKER_ARGS="--model some/model --max-batch 4")
    assert isinstance(mod.app, modal.App) and mod.app.name == "drover-worker"
    assert isinstance(mod.Worker, modal.Cls)
    methods = mod.Worker._get_partial_functions()
    assert set(methods) == {"load", "web", "close"}
    web = synchronizer._translate_in(methods["web"])
    assert "ASGI" in str(web.params.webhook_config)  # @modal.asgi_app
    spec = synchronizer._translate_in(mod.Worker._get_class_service_function())._spec
    assert spec.gpus == "A100"
    assert list(spec.volumes) == ["/models"] and len(spec.secrets) == 1
    assert (mod.SCALEDOWN_S, mod.MAX_INPUTS) == (120, 16)
    assert mod.WORKER_ARGS == "--model some/model --max-batch 4"
    assert isinstance(mod.download, modal.Function)


def test_the_container_serves_the_workers_app(tiny_model_dir, tmp_path):
    """Run the class's enter and asgi_app methods as a container would and use the app."""
    args = f"--model {tiny_model_dir} --device cpu --served-model-name tiny-sd --default-steps 2"
    env = {"DROVER_WORKER_ARGS": args, "DROVER_WORKER_API_KEY": "k-123"}
    w = Worker(str(tmp_path / "container.log"),
               [sys.executable, os.path.join("tests", "modal_container.py"), "{port}"], env)
    try:
        assert w.wait_ready()["model"] == "tiny-sd"
        status, resp = w.generate(prompt="x", **SMALL)
        assert_error(status, resp, 401, param=None, code="invalid_api_key")
        status, resp = w.request("POST", "/v1/images/generations",
                                 dict(prompt="a modal cat", seed=3, **SMALL),
                                 headers={"Authorization": "Bearer k-123"})
        assert status == 200 and resp["model"] == "tiny-sd"
        assert decode_png(resp["data"][0]["b64_json"]).size == (64, 64)
    finally:
        w.stop()

