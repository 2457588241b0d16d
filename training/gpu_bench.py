"""How fast the networks run on an accelerator: the figures BENCHMARKS.md and ``darkroom simulate`` need.

For the full Sony frame (4 x 1424 x 2128 packed, SID) and a 1 MP picture
(12 x 512 x 512, the sRGB model): fp32, TF32, bf16 and fp16, each eager
channels-last, with ``torch.compile`` and replayed as a CUDA graph; the
frame as four tiles in one batch; peak memory; and the share of the FLOP
limit reached (SID costs about 1.13 TFLOP per full frame; the count below is
exact for this network). Times are medians of synchronised runs after
warm-up. Needs only PyTorch; ``quick`` (on a CPU, for the smoke test) runs
one small case.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from worker.models.checkpoint import load_model
from worker.models.sid import SID, SIDConfig

FULL_FRAME = (4, 1424, 2128)
ONE_MP = (12, 512, 512)
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def flops(model: SID, height: int, width: int) -> float:
    """Floating-point operations (2 per multiply-add) of one pass on a (height, width) input, sides divisible by 16.

    Counted by hooks on a 64 x 64 input and scaled by area: every layer's cost
    is proportional to the pixels it sees.
    """
    total = 0.0

    def count(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d | nn.ConvTranspose2d)
        kernel = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):  # each input value feeds out_channels x kernel outputs
            total += 2 * inputs[0][0].numel() * module.out_channels * kernel
        else:  # each output value is a sum over in_channels x kernel inputs
            total += 2 * output[0].numel() * module.in_channels * kernel

    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    hooks = [m.register_forward_hook(count) for m in convolutions]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, model.config.in_channels, 64, 64, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return total * height * width / (64 * 64)


def _median_seconds(call: Callable[[], Any], device: torch.device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _graphed(model: nn.Module, x: Tensor) -> Callable[[], Tensor]:
    """Capture one forward pass as a CUDA graph; replaying it skips every kernel launch."""
    stream = torch.cuda.Stream()  # type: ignore[no-untyped-call]
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            model(x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out: Tensor = model(x)

    def replay() -> Tensor:
        graph.replay()
        return out

    return replay


def time_variant(model: SID, shape: tuple[int, ...], precision: str, mode: str, device: torch.device) -> dict[str, Any]:
    """One row: median seconds and peak memory of ``model`` on a zero input of ``shape`` (N, C, H, W)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    dtype = DTYPES[precision]
    net = model.to(device=device, dtype=dtype).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    x = torch.rand(shape, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode():
        forward: Callable[[], Any] = lambda: net(x)  # noqa: E731
        if mode == "compile":
            compiled: Callable[[Tensor], Tensor] = torch.compile(net, mode="max-autotune-no-cudagraphs")
            forward = lambda: compiled(x)  # noqa: E731
        elif mode == "cuda-graph":
            forward = _graphed(net, x)
        for _ in range(2):
            forward()
        seconds = _median_seconds(forward, device, repeats=10 if device.type == "cuda" else 2)
    row = {"shape": list(shape), "precision": precision, "mode": mode, "ms": round(seconds * 1000, 2)}
    if device.type == "cuda":
        row["peak_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    return row


def benchmark(device: torch.device, weights: Path | None = None, quick: bool = False) -> dict[str, Any]:
    """Every variant on ``device``; ``quick``: one small fp32 case, to prove the code runs."""
    raw = load_model(weights)[0] if weights and weights.exists() else SID(SIDConfig())
    srgb = SID(SIDConfig(in_channels=12, residual=True))
    cases: list[tuple[str, SID, tuple[int, ...]]] = [
        ("full frame", raw, (1, *FULL_FRAME)),
        ("full frame, 4 tiles in one batch", raw, (4, 4, FULL_FRAME[1] // 2 + 32, FULL_FRAME[2] // 2 + 32)),
        ("1 MP", srgb, (1, *ONE_MP)),
    ]
    variants = [(p, m) for p in DTYPES for m in ("eager", "compile", "cuda-graph")]
    if quick:
        cases, variants = [("small", raw, (1, 4, 64, 96))], [("fp32", "eager")]
    rows = []
    for name, model, shape in cases:
        for precision, mode in variants:
            try:
                row = time_variant(model, shape, precision, mode, device)
            except (RuntimeError, torch.OutOfMemoryError) as exc:  # a variant this GPU or build cannot run
                row = {"shape": list(shape), "precision": precision, "mode": mode, "error": str(exc)[:200]}
            row["case"] = name
            if "ms" in row:
                row["tflops"] = round(shape[0] * flops(model, *shape[-2:]) / (row["ms"] / 1000) / 1e12, 1)
            rows.append(row)
    return {"frame_tflop": round(flops(raw, *FULL_FRAME[1:]) / 1e12, 3), "rows": rows}
