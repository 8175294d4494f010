"""Request validation and response shaping for the OpenAI-style Images API.

Nothing here touches HTTP sockets or torch: it turns a request body into a
:class:`GenerationRequest` (or raises :class:`ApiError`) and turns results into
JSON-ready dictionaries.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from .batching import BatchKey, ImageSpec
from .config import MAX_IMAGES_PER_REQUEST

MIN_SIDE = 64
MAX_SIDE = 2048
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
#: Largest seed accepted (torch generators take 64-bit seeds; keep to signed range).
MAX_SEED = 2**63 - 1
#: Seeds drawn for requests without one lie in [0, 2**32).
RANDOM_SEED_LIMIT = 2**32

_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


class ApiError(Exception):
    """An error answered to the client as OpenAI-shaped JSON."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str, param: Optional[str] = None,
               code: Optional[str] = None) -> dict:
    """Build an OpenAI-shaped error object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class GenerationRequest:
    """A validated ``POST /v1/images/generations`` request."""

    prompt: str
    negative_prompt: str
    n: int
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    seed_given: bool
    model: Optional[str] = None

    def batch_key(self, adapter: Optional[str]) -> BatchKey:
        """Settings that decide which requests may share a pipeline call.

        ``adapter`` is the LoRA adapter ``model`` resolved to (``None``: the base model).
        """
        return BatchKey(self.width, self.height, self.num_inference_steps, self.guidance_scale,
                        adapter)

    def image_specs(self) -> List[ImageSpec]:
        """One spec per image; image ``i`` uses seed ``seed + i``."""
        return [ImageSpec(self.prompt, self.negative_prompt, self.seed + i) for i in range(self.n)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def parse_size(value: Any) -> tuple:
    """Parse ``"WxH"`` into ``(width, height)``; each a multiple of 8 in 64..2048."""
    if not isinstance(value, str):
        raise ApiError(400, "size must be a string like \"512x512\"", param="size")
    m = _SIZE_RE.match(value.strip())
    if not m:
        raise ApiError(400, f"size must look like \"512x512\" (WIDTHxHEIGHT), got {value!r}",
                       param="size")
    width, height = int(m.group(1)), int(m.group(2))
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE or side % 8:
            raise ApiError(400, f"size {value!r}: width and height must be multiples of 8 "
                           f"between {MIN_SIDE} and {MAX_SIDE}", param="size")
    return width, height


def parse_json_body(raw: bytes) -> dict:
    """Decode a request body that must be a JSON object."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def parse_generation_request(body: dict, *, default_steps: int = 30,
                             default_guidance_scale: float = 7.5) -> GenerationRequest:
    """Validate a decoded JSON body; raise :class:`ApiError` (400) naming the bad field.

    Unknown fields (e.g. OpenAI's ``quality``, ``style``, ``user``) are ignored.
    """
    prompt = body.get("prompt")
    if prompt is None:
        raise ApiError(400, "prompt is required", param="prompt")
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string", param="prompt")
    if not prompt.strip():
        raise ApiError(400, "prompt must not be empty", param="prompt")

    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "model must be a string", param="model")

    n = body.get("n", 1)
    if n is None:
        n = 1
    if not _is_int(n) or not 1 <= n <= MAX_IMAGES_PER_REQUEST:
        raise ApiError(400, f"n must be an integer between 1 and {MAX_IMAGES_PER_REQUEST}",
                       param="n")

    size = body.get("size")
    width, height = parse_size("512x512" if size is None else size)

    response_format = body.get("response_format")
    if response_format is not None and response_format != "b64_json":
        if response_format == "url":
            msg = "response_format \"url\" is not supported by this server; use \"b64_json\""
        else:
            msg = "response_format must be \"b64_json\""
        raise ApiError(400, msg, param="response_format")

    seed = body.get("seed")
    seed_given = seed is not None
    if seed_given:
        if not _is_int(seed) or seed < 0 or seed + n - 1 > MAX_SEED:
            raise ApiError(400, f"seed must be an integer between 0 and {MAX_SEED - n + 1}",
                           param="seed")
    else:
        seed = secrets.randbelow(RANDOM_SEED_LIMIT)

    steps = body.get("num_inference_steps")
    if steps is None:
        steps = default_steps
    if not _is_int(steps) or not 1 <= steps <= MAX_STEPS:
        raise ApiError(400, f"num_inference_steps must be an integer between 1 and {MAX_STEPS}",
                       param="num_inference_steps")

    guidance = body.get("guidance_scale")
    if guidance is None:
        guidance = default_guidance_scale
    if not _is_number(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
        raise ApiError(400, f"guidance_scale must be a number between 0 and {MAX_GUIDANCE:g}",
                       param="guidance_scale")

    negative = body.get("negative_prompt")
    if negative is None:
        negative = ""
    if not isinstance(negative, str):
        raise ApiError(400, "negative_prompt must be a string", param="negative_prompt")

    return GenerationRequest(prompt=prompt, negative_prompt=negative, n=n, width=width,
                             height=height, num_inference_steps=steps,
                             guidance_scale=float(guidance), seed=seed,
                             seed_given=seed_given, model=model)


def encode_png_b64(image: Any) -> str:
    """Encode a PIL image as base64 PNG text."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def generation_response(req: GenerationRequest, results: Sequence[Any], model_name: str,
                        created: Optional[int] = None) -> dict:
    """Shape the 200 response; ``results`` are ``(pil_image, nsfw_flag_or_None)`` pairs."""
    data = []
    for i, (image, nsfw) in enumerate(results):
        data.append({
            "b64_json": encode_png_b64(image),
            "seed": req.seed + i,
            "nsfw_content_detected": None if nsfw is None else bool(nsfw),
        })
    return {
        "created": int(time.time()) if created is None else created,
        "model": model_name,
        "data": data,
        "num_inference_steps": req.num_inference_steps,
        "guidance_scale": req.guidance_scale,
        "width": req.width,
        "height": req.height,
    }
