"""Unit tests of request validation (no HTTP, no torch)."""

from __future__ import annotations

import pytest

from drover_worker.api import ApiError, parse_generation_request, parse_json_body, parse_size


def parse(**body):
    return parse_generation_request(body, default_steps=30, default_guidance_scale=7.5)


def test_defaults():
    req = parse(prompt="a cat")
    assert (req.n, req.width, req.height) == (1, 512, 512)
    assert (req.num_inference_steps, req.guidance_scale, req.negative_prompt) == (30, 7.5, "")
    assert not req.seed_given and 0 <= req.seed < 2**32


def test_all_fields_and_seeds_per_image():
    req = parse(prompt="a cat", model="m", n=3, size="640x384", response_format="b64_json",
                seed=41, num_inference_steps=12, guidance_scale=0, negative_prompt="dog",
                user="ignored")
    assert (req.width, req.height, req.num_inference_steps, req.guidance_scale) == (640, 384, 12, 0.0)
    assert [s.seed for s in req.image_specs()] == [41, 42, 43]
    assert all(s.negative_prompt == "dog" for s in req.image_specs())
    assert req.batch_key(None) == parse(prompt="other", size="640x384", num_inference_steps=12,
                                        guidance_scale=0.0).batch_key(None)
    assert req.batch_key("style") != req.batch_key(None)


@pytest.mark.parametrize("body,param", [
    ({}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": "x", "n": 0}, "n"),
    ({"prompt": "x", "n": 9}, "n"),
    ({"prompt": "x", "n": 99}, "n"),
    ({"prompt": "x", "n": 1.5}, "n"),
    ({"prompt": "x", "n": True}, "n"),
    ({"prompt": "x", "size": "512"}, "size"),
    ({"prompt": "x", "size": "500x512"}, "size"),
    ({"prompt": "x", "size": "56x64"}, "size"),
    ({"prompt": "x", "size": "2056x64"}, "size"),
    ({"prompt": "x", "size": 512}, "size"),
    ({"prompt": "x", "response_format": "url"}, "response_format"),
    ({"prompt": "x", "response_format": "png"}, "response_format"),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"prompt": "x", "seed": "7"}, "seed"),
    ({"prompt": "x", "seed": 2**63}, "seed"),
    ({"prompt": "x", "num_inference_steps": 0}, "num_inference_steps"),
    ({"prompt": "x", "num_inference_steps": 151}, "num_inference_steps"),
    ({"prompt": "x", "guidance_scale": -0.1}, "guidance_scale"),
    ({"prompt": "x", "guidance_scale": 30.5}, "guidance_scale"),
    ({"prompt": "x", "guidance_scale": "7"}, "guidance_scale"),
    ({"prompt": "x", "negative_prompt": 3}, "negative_prompt"),
    ({"prompt": "x", "model": 3}, "model"),
])
def test_bad_fields(body, param):
    with pytest.raises(ApiError) as info:
        parse(**body)
    assert info.value.status == 400 and info.value.param == param
    assert info.value.body()["error"]["type"] == "invalid_request_error"
    assert info.value.body()["error"]["code"] is None


def test_size_limits():
    assert parse_size("64x2048") == (64, 2048)
    with pytest.raises(ApiError):
        parse_size("0x0")


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"s"', b"\xff\xfe", b""])
def test_bad_json(raw):
    with pytest.raises(ApiError) as info:
        parse_json_body(raw)
    assert info.value.status == 400 and info.value.param is None
