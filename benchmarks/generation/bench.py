#!/usr/bin/env python3
"""Generation benchmark for the Drover diffusers worker.  Nothing is downloaded.

1. Direct pipeline: images/s, latency, denoising time per step, peak GPU memory and
   the share of the GPU's fp16 FLOP bound reached, for batch sizes 1, 4, 8 and 16.
2. What moves the figure, at one batch size: classic attention instead of SDPA,
   channels-last, fused QKV projections, VAE slicing, ``torch.compile``.
3. LoRA adapters: the cost of switching the active adapter and of running with one.
4. The real worker (``python -m drover_worker`` subprocess) under N concurrent
   closed-loop clients, dynamic batching on (``--max-batch 8``) vs off
   (``--max-batch 1``): images/s and p50/p95 request latency, side by side.

Models have random weights: ``--full`` uses the real Stable Diffusion 1.5
architecture (configs below, as published with SD 1.5); ``--tiny`` uses the tiny
pipeline of the worker's tests.  Speed does not depend on the weights' values or
on the tokenizer's vocabulary (prompts are always padded to 77 tokens), so a small
local tokenizer is used for both.

    python benchmarks/generation/bench.py --tiny        # CPU, a few minutes
    python benchmarks/generation/bench.py               # SD 1.5 fp16 512x512 on CUDA, < 10 min
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORKER_ROOT = os.path.join(REPO, "workers", "diffusers")
sys.path.insert(0, WORKER_ROOT)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# ---- Stable Diffusion 1.5 architecture (published configs) ----------------------------------
SD15_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    center_input_sample=False,
    flip_sin_to_cos=True,
    freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                      "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D",
                    "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    downsample_padding=1,
    mid_block_scale_factor=1,
    act_fn="silu",
    norm_num_groups=32,
    norm_eps=1e-5,
    cross_attention_dim=768,
    attention_head_dim=8,
)
SD15_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.18215,
)
# CLIP ViT-L/14 text encoder (openai/clip-vit-large-patch14), as used by SD 1.x.
SD15_TEXT = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    projection_dim=768,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
)


#: Dense fp16 tensor-core peaks (TFLOP/s, datasheets, no sparsity), matched against the
#: CUDA device name; ``--peak-tflops`` overrides.  The FLOP-bound share needs one.
PEAK_FP16_TFLOPS: Tuple[Tuple[str, float], ...] = (
    ("H200", 989.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("T4", 65.0),
)


# ---- helpers ---------------------------------------------------------------------------------
def percentile(values: List[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in 0..100."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(mode: str, work_dir: str):
    """Build the random pipeline of ``mode`` ("tiny" or "full") on CPU in fp32."""
    from drover_worker import synthetic

    if mode == "tiny":
        return synthetic.build_tiny_pipeline(work_dir, seed=0)
    tokenizer = synthetic.build_tokenizer(work_dir)
    return synthetic.build_pipeline(SD15_UNET, SD15_VAE, SD15_TEXT, tokenizer, seed=0)


def sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


# ---- part 1: direct pipeline -------------------------------------------------------------
PROMPT = "a photograph of an astronaut riding a horse"


def timed(device: str, fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (synchronised on CUDA)."""
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def count_flops(pipe, device: str, width: int, height: int) -> Dict[str, float]:
    """FLOPs of one UNet step with classifier-free guidance (batch 2) and of one VAE decode.

    Counted by ``torch.utils.flop_counter`` on the real modules (2 FLOPs per multiply-add;
    matmuls, convolutions and attention).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    unet, vae = pipe.unet, pipe.vae
    dtype = unet.dtype
    lat = torch.zeros(2, unet.config.in_channels, height // 8, width // 8, device=device,
                      dtype=dtype)
    text = torch.zeros(2, 77, unet.config.cross_attention_dim, device=device, dtype=dtype)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as unet_count:
            unet(lat, 10, encoder_hidden_states=text)
        with FlopCounterMode(display=False) as vae_count:
            vae.decode(lat[:1])
    return dict(unet_step_cfg=float(unet_count.get_total_flops()),
                vae_decode=float(vae_count.get_total_flops()))


def peak_tflops(device: str, override: Optional[float]) -> Optional[float]:
    """The GPU's dense fp16 peak, from ``--peak-tflops`` or the table above."""
    if override:
        return override
    if device != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name(0)
    return next((peak for key, peak in PEAK_FP16_TFLOPS if key in name), None)


def bench_direct(runner, device: str, batch_sizes: List[int], width: int, height: int,
                 steps: int, repeats: int, flops_per_image: float,
                 peak: Optional[float]) -> List[Dict]:
    """Per batch size: a warm-up call, then ``repeats`` timed full calls and latent-only calls.

    The latent-only call (``output_type="latent"``) skips the VAE decode, so its time over
    ``steps`` is the denoising time per step (text encoding included, a few ms).
    """
    import torch

    from drover_worker.batching import BatchKey, ImageSpec

    key = BatchKey(width, height, steps, 7.5)
    rows = []
    for b in batch_sizes:
        specs = [ImageSpec(PROMPT, "", i) for i in range(b)]

        def latents_only() -> None:
            with torch.inference_mode():
                runner.pipe(prompt=[PROMPT] * b, width=width, height=height,
                            num_inference_steps=steps, guidance_scale=7.5, output_type="latent")

        try:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            runner.run_batch(key, specs)  # warm-up (kernels, allocator)
            lat = timed(device, lambda: runner.run_batch(key, specs), repeats)
            denoise = timed(device, latents_only, repeats)
        except (torch.OutOfMemoryError, MemoryError):
            rows.append(dict(batch=b, error="out of memory"))
            if device == "cuda":
                torch.cuda.empty_cache()
            continue
        row = dict(batch=b, latency_s=lat, images_per_s=b / lat, runs=repeats,
                   step_s=denoise / steps, decode_s=max(lat - denoise, 0.0))
        if device == "cuda":
            row["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        if peak:
            row["flop_share"] = row["images_per_s"] * flops_per_image / (peak * 1e12)
        rows.append(row)
        print(f"  direct batch={b}: {lat:.3f} s/call, {b / lat:.2f} images/s, "
              f"{row['step_s'] * 1000:.1f} ms/step", file=sys.stderr, flush=True)
    return rows


# ---- part 2: what moves the figure ---------------------------------------------------------
def variants(pipe, device: str, compile_unet: bool) -> List[Tuple[str, Callable, Callable]]:
    """``(name, apply, undo)`` for each optimisation tried on top of diffusers' defaults."""
    import torch
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    def channels_last(fmt):
        return lambda: (pipe.unet.to(memory_format=fmt), pipe.vae.to(memory_format=fmt))

    out = [
        ("classic attention (no SDPA)",
         lambda: (pipe.unet.set_attn_processor(AttnProcessor()),
                  pipe.vae.set_attn_processor(AttnProcessor())),
         lambda: (pipe.unet.set_attn_processor(AttnProcessor2_0()),
                  pipe.vae.set_attn_processor(AttnProcessor2_0()))),
        ("channels-last", channels_last(torch.channels_last),
         channels_last(torch.contiguous_format)),
        ("fused QKV projections (UNet + VAE)", pipe.fuse_qkv_projections,
         pipe.unfuse_qkv_projections),
        ("VAE slicing (decode one image at a time)", pipe.vae.enable_slicing,
         pipe.vae.disable_slicing),
    ]
    if compile_unet:
        eager_unet, eager_decode = pipe.unet, pipe.vae.decode

        def compile_all() -> None:
            channels_last(torch.channels_last)()
            pipe.fuse_qkv_projections()
            # inductor's default mode: "max-autotune" compiles for many minutes at this size
            pipe.unet = torch.compile(eager_unet)
            pipe.vae.decode = torch.compile(eager_decode)

        def uncompile() -> None:
            pipe.unet = eager_unet
            pipe.vae.decode = eager_decode
            pipe.unfuse_qkv_projections()
            channels_last(torch.contiguous_format)()

        out.append(("torch.compile + channels-last + fused QKV", compile_all, uncompile))
    return out


def bench_variants(runner, device: str, batch: int, width: int, height: int, steps: int,
                   repeats: int, compile_unet: bool) -> List[Dict]:
    """Images/s at ``batch`` for diffusers' defaults and for each variant alone."""
    from drover_worker.batching import BatchKey, ImageSpec

    key = BatchKey(width, height, steps, 7.5)
    specs = [ImageSpec(PROMPT, "", i) for i in range(batch)]
    rows = []
    for name, apply, undo in [("diffusers defaults (SDPA)", lambda: None, lambda: None),
                              *variants(runner.pipe, device, compile_unet)]:
        apply()
        try:
            t0 = time.perf_counter()
            runner.run_batch(key, specs)  # warm-up; compiles where torch.compile is on
            warm = time.perf_counter() - t0
            lat = timed(device, lambda: runner.run_batch(key, specs), repeats)
        finally:
            undo()
        rows.append(dict(variant=name, batch=batch, latency_s=lat, images_per_s=batch / lat,
                         warmup_s=warm))
        print(f"  variant {name}: {batch / lat:.2f} images/s (warm-up {warm:.1f} s)",
              file=sys.stderr, flush=True)
    return rows


# ---- part 3: LoRA adapters -----------------------------------------------------------------
def bench_adapters(runner, device: str, batch: int, width: int, height: int, steps: int,
                   repeats: int, work: str) -> Dict:
    """Load two random rank-16 adapters; time switching between them and a call with one."""
    from drover_worker.batching import BatchKey, ImageSpec
    from drover_worker.synthetic import save_random_lora

    pipe = runner.pipe
    names = ("bench-a", "bench-b")
    dirs = [save_random_lora(pipe, os.path.join(work, "lora", name), seed=seed, rank=16, std=0.01)
            for seed, name in enumerate(names)]
    for name, directory in zip(names, dirs):
        t0 = time.perf_counter()
        pipe.load_lora_weights(directory, adapter_name=name)
        load_s = time.perf_counter() - t0
    pipe.disable_lora()
    runner.adapters = names
    switches = []
    for _ in range(10):
        for target in (names[0], names[1], None):
            sync(device)
            switches.append(runner.activate(target))
    specs = [ImageSpec(PROMPT, "", i) for i in range(batch)]
    calls = {}
    for target in (None, names[0]):
        key = BatchKey(width, height, steps, 7.5, target)
        runner.run_batch(key, specs)
        calls[target] = timed(device, lambda: runner.run_batch(key, specs), repeats)
    runner.activate(None)
    pipe.unload_lora_weights()
    runner.adapters = ()
    return dict(switch_ms=statistics.median(switches) * 1000, load_s=load_s, batch=batch,
                base_s=calls[None], adapter_s=calls[names[0]])


# ---- part 4: the real worker under concurrent clients ------------------------------------------
class WorkerProcess:
    """``python -m drover_worker`` on a saved pipeline."""

    def __init__(self, model_dir: str, device: str, max_batch: int, batch_wait_ms: float,
                 log_path: str):
        self.port = free_port()
        self._log = open(log_path, "wb")
        self.log_path = log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = WORKER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drover_worker", "--model", model_dir, "--device", device,
             "--port", str(self.port), "--max-batch", str(max_batch),
             "--batch-wait-ms", str(batch_wait_ms), "--max-queue", "256"],
            cwd=WORKER_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def request(self, method: str, path: str, body: Optional[dict] = None, timeout: float = 600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def wait_ready(self, deadline_s: float = 600) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if self.request("GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {deadline_s}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def bench_worker(model_dir: str, device: str, max_batch: int, batch_wait_ms: float,
                 clients: int, requests_per_client: int, width: int, height: int,
                 steps: int, log_path: str) -> Dict:
    """N closed-loop clients, each sending ``requests_per_client`` 1-image requests."""
    w = WorkerProcess(model_dir, device, max_batch, batch_wait_ms, log_path)
    try:
        w.wait_ready()
        body = dict(prompt="a photograph of an astronaut riding a horse", n=1,
                    size=f"{width}x{height}", num_inference_steps=steps, guidance_scale=7.5)
        # warm-up: one request per batch shape the run will likely use
        for n in sorted({1, min(max_batch, clients)}):
            status, resp = w.request("POST", "/v1/images/generations", dict(body, n=n, seed=0))
            if status != 200:
                raise RuntimeError(f"warm-up failed: {status} {resp}")
        calls_before = w.request("GET", "/healthz")[1]["pipeline_calls"]
        latencies: List[float] = []
        errors: List[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(clients)

        def client(c: int) -> None:
            barrier.wait()
            for r in range(requests_per_client):
                t0 = time.perf_counter()
                status, resp = w.request("POST", "/v1/images/generations",
                                         dict(body, seed=1000 * c + r))
                dt = time.perf_counter() - t0
                with lock:
                    if status == 200:
                        latencies.append(dt)
                    else:
                        errors.append(f"{status}: {resp}")

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        calls = w.request("GET", "/healthz")[1]["pipeline_calls"] - calls_before
    finally:
        w.stop()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    n = len(latencies)
    return dict(max_batch=max_batch, images=n, wall_s=wall, images_per_s=n / wall,
                p50_s=percentile(latencies, 50), p95_s=percentile(latencies, 95),
                pipeline_calls=calls, images_per_call=n / calls if calls else float("nan"))


# ---- report --------------------------------------------------------------------------------
def markdown(meta: Dict, direct: List[Dict], tried: List[Dict], lora: Optional[Dict],
             server: List[Dict]) -> str:
    """The report: one markdown table per part that ran."""
    out = []
    out.append(f"Mode: **{meta['mode']}** ({meta['model_desc']}); device {meta['device']} "
               f"({meta['dtype']}); {meta['width']}x{meta['height']}, {meta['steps']} steps, "
               f"guidance 7.5; torch {meta['torch']}, diffusers {meta['diffusers']}; "
               f"{meta['host']}")
    out.append("")
    if direct:
        base = next((r for r in direct if r["batch"] == 1 and "error" not in r), None)
        flops = meta["flops"]
        out.append("Direct pipeline (one call per batch; median of "
                   f"{meta['repeats']} timed calls after a warm-up). One image costs "
                   f"{flops['unet_step_cfg'] / 1e12:.3g} TFLOP per UNet step with classifier-free "
                   f"guidance and {flops['vae_decode'] / 1e12:.3g} TFLOP for its VAE decode "
                   f"(counted by torch.utils.flop_counter); FLOP bound: "
                   + (f"{meta['peak_tflops']:g} TFLOP/s dense fp16." if meta["peak_tflops"]
                      else "none known for this device."))
        out.append("")
        out.append("| batch size | latency / call (s) | images/s | images/s vs batch 1 | "
                   "denoising / step (ms) | VAE decode / call (s) | peak GPU memory (GiB) | "
                   "share of fp16 FLOP bound |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in direct:
            if "error" in r:
                out.append(f"| {r['batch']} | {r['error']} | | | | | | |")
                continue
            ratio = r["images_per_s"] / base["images_per_s"] if base else float("nan")
            mem = f"{r['peak_mem_gib']:.1f}" if "peak_mem_gib" in r else "n/a"
            share = f"{100 * r['flop_share']:.0f}%" if "flop_share" in r else "n/a"
            out.append(f"| {r['batch']} | {r['latency_s']:.3f} | {r['images_per_s']:.2f} | "
                       f"{ratio:.2f}x | {r['step_s'] * 1000:.1f} | {r['decode_s']:.3f} | "
                       f"{mem} | {share} |")
        out.append("")
    if tried:
        ref = tried[0]["images_per_s"]
        out.append(f"What moves the figure (batch {tried[0]['batch']}, each change alone on top "
                   "of diffusers' defaults):")
        out.append("")
        out.append("| variant | images/s | vs defaults | first call (s) |")
        out.append("|---|---:|---:|---:|")
        for r in tried:
            out.append(f"| {r['variant']} | {r['images_per_s']:.2f} | "
                       f"{r['images_per_s'] / ref:.2f}x | {r['warmup_s']:.1f} |")
        out.append("")
    if lora:
        out.append(f"LoRA adapters (two random rank-16 adapters on the UNet attention): switching "
                   f"the active adapter takes **{lora['switch_ms']:.2f} ms** (median of 30); "
                   f"loading one took {lora['load_s']:.2f} s; a batch-{lora['batch']} call takes "
                   f"{lora['adapter_s']:.3f} s with an adapter vs {lora['base_s']:.3f} s without "
                   f"({lora['adapter_s'] / lora['base_s']:.2f}x, unfused LoRA layers).")
        out.append("")
    if server:
        out.append(f"Worker (`python -m drover_worker`, batch wait {meta['batch_wait_ms']:g} ms) "
                   f"under {meta['clients']} concurrent closed-loop clients x "
                   f"{meta['requests_per_client']} requests (n=1 each):")
        out.append("")
        out.append("| | images/s | p50 latency (s) | p95 latency (s) | pipeline calls | "
                   "images / call |")
        out.append("|---|---:|---:|---:|---:|---:|")
        by = {r["max_batch"]: r for r in server}
        for r in server:
            label = "batching off (`--max-batch 1`)" if r["max_batch"] == 1 else \
                f"batching on (`--max-batch {r['max_batch']}`)"
            out.append(f"| {label} | {r['images_per_s']:.2f} | {r['p50_s']:.3f} | "
                       f"{r['p95_s']:.3f} | {r['pipeline_calls']} | {r['images_per_call']:.2f} |")
        on = next((r for r in server if r["max_batch"] > 1), None)
        off = by.get(1)
        if on and off:
            out.append(f"| **on / off** | **{on['images_per_s'] / off['images_per_s']:.2f}x** | "
                       f"{on['p50_s'] / off['p50_s']:.2f}x | {on['p95_s'] / off['p95_s']:.2f}x | "
                       f"{on['pipeline_calls'] / off['pipeline_calls']:.2f}x | |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--tiny", action="store_true", help="tiny random pipeline on CPU")
    mode.add_argument("--full", action="store_true",
                      help="SD 1.5-sized random pipeline (default when CUDA is available)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--batch-sizes", default="1,4,8,16")
    p.add_argument("--size", help="WxH (default 512x512 full, 64x64 tiny)")
    p.add_argument("--steps", type=int, help="denoising steps (default 50 full, 10 tiny)")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per batch size")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for the worker part")
    p.add_argument("--requests-per-client", type=int, help="default 4 full, 6 tiny")
    p.add_argument("--max-batch", type=int, default=8, help="worker --max-batch when batching is on")
    p.add_argument("--batch-wait-ms", type=float, default=20.0)
    p.add_argument("--variant-batch", type=int, default=8,
                   help="batch size for the variants and the adapter part")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="try torch.compile among the variants (default: on CUDA only)")
    p.add_argument("--peak-tflops", type=float,
                   help="the device's dense fp16 peak, for the FLOP-bound share")
    p.add_argument("--skip-direct", action="store_true")
    p.add_argument("--skip-variants", action="store_true")
    p.add_argument("--skip-adapters", action="store_true")
    p.add_argument("--skip-worker", action="store_true")
    p.add_argument("--cpu-threads", type=int,
                   help="torch CPU threads for the direct part and the worker (OMP_NUM_THREADS); "
                   "default 1 for --tiny on CPU (2 threads on a busy 2-core box thrash), else "
                   "torch's default")
    p.add_argument("--work-dir", help="keep the saved model and worker logs here")
    p.add_argument("--json", help="also write raw results to this file")
    args = p.parse_args(argv)
    started = time.perf_counter()

    import torch

    import diffusers

    from drover_worker.pipeline import PipelineRunner

    cuda = torch.cuda.is_available()
    device = args.device if args.device != "auto" else ("cuda" if cuda else "cpu")
    if device == "cuda" and not cuda:
        p.error("--device cuda but CUDA is not available")
    mode = "tiny" if args.tiny else "full" if (args.full or cuda) else "tiny"
    if not (args.tiny or args.full) and not cuda:
        print("no CUDA: running --tiny (pass --full to force SD 1.5 size on CPU)", file=sys.stderr)
    width, height = map(int, (args.size or ("512x512" if mode == "full" else "64x64")).split("x"))
    steps = args.steps or (50 if mode == "full" else 10)
    rpc = args.requests_per_client or (4 if mode == "full" else 6)
    dtype = torch.float16 if device == "cuda" else torch.float32
    threads = args.cpu_threads or (1 if (mode == "tiny" and device == "cpu") else None)
    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # inherited by the worker subprocesses

    work = args.work_dir or tempfile.mkdtemp(prefix="drover-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        pipe = build(mode, os.path.join(work, "tok"))
        n_params = sum(p.numel() for m in (pipe.unet, pipe.vae, pipe.text_encoder)
                       for p in m.parameters())
        print(f"built {mode} pipeline ({n_params / 1e6:.1f} M parameters) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        model_dir = os.path.join(work, "model")
        if not args.skip_worker:
            pipe.save_pretrained(model_dir)  # fp32; the worker loads fp16 on CUDA itself
        pipe = pipe.to(device) if dtype == torch.float32 else pipe.to(device=device, dtype=dtype)
        runner = PipelineRunner(pipe=pipe, model="bench", device=device, dtype_name="")
        flops = count_flops(pipe, device, width, height)
        flops_per_image = flops["unet_step_cfg"] * steps + flops["vae_decode"]
        peak = peak_tflops(device, args.peak_tflops)
        direct = [] if args.skip_direct else bench_direct(
            runner, device, [int(b) for b in args.batch_sizes.split(",")], width, height, steps,
            args.repeats, flops_per_image, peak)
        compile_unet = device == "cuda" if args.compile is None else args.compile
        tried = [] if args.skip_variants else bench_variants(
            runner, device, args.variant_batch, width, height, steps, args.repeats, compile_unet)
        lora = None if args.skip_adapters else bench_adapters(
            runner, device, args.variant_batch, width, height, steps, args.repeats, work)
        del pipe, runner
        if device == "cuda":
            torch.cuda.empty_cache()
        server = []
        if not args.skip_worker:
            for mb in (1, args.max_batch):
                r = bench_worker(model_dir, device, mb, args.batch_wait_ms, args.clients, rpc,
                                 width, height, steps, os.path.join(work, f"worker-mb{mb}.log"))
                print(f"  worker max_batch={mb}: {r['images_per_s']:.2f} images/s, "
                      f"p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s, "
                      f"{r['pipeline_calls']} calls", file=sys.stderr, flush=True)
                server.append(r)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    meta = dict(mode=mode, device=device, dtype=str(dtype).replace("torch.", ""),
                width=width, height=height, steps=steps, repeats=args.repeats,
                clients=args.clients, requests_per_client=rpc, batch_wait_ms=args.batch_wait_ms,
                torch=torch.__version__, diffusers=diffusers.__version__,
                host=f"{platform.machine()}, {os.cpu_count()} CPUs, "
                f"{torch.get_num_threads()} torch thread(s)"
                + (f", {torch.cuda.get_device_name(0)}" if device == "cuda" else ""),
                model_desc=("random weights, SD 1.5 architecture" if mode == "full"
                            else "random weights, tiny test architecture"),
                parameters_m=round(n_params / 1e6, 1), flops=flops, peak_tflops=peak,
                elapsed_s=round(time.perf_counter() - started, 1))
    print(markdown(meta, direct, tried, lora, server))
    print(f"(whole run: {meta['elapsed_s']:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(meta=meta, direct=direct, variants=tried, adapters=lora,
                           worker=server), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
