"""How fast the networks run on an accelerator: the figures BENCHMARKS.md and ``darkroom simulate`` need.

For the full Sony frame (4 x 1424 x 2128 packed, SID) and a 1 MP picture
(12 x 512 x 512, the sRGB model): fp32, TF32, bf16 and fp16, each eager
channels-last, with ``torch.compile`` and replayed as a CUDA graph; the
frame as four tiles in one batch; peak memory; and the share of the FLOP
limit reached (SID costs about 1.13 TFLOP per full frame; the count below is
exact for this network) and, where the GPU's published peak is known, the
share of it; the worker pipeline's RAWs per second (``SidEnhancer`` as the
worker runs it, then the JPEG encode, on decoded frames); and the seconds
from a worker process's start to both models loaded and warmed up on the
device. Times are medians of synchronised runs after warm-up. The rows run
cheapest first (eager, CUDA graphs, then ``torch.compile``), so the time box
drops the compiled rows first. Needs only PyTorch, numpy, safetensors and
Pillow; ``quick`` (on a CPU, for the smoke test) runs one small case::

    python -m training.gpu_bench --out $OUT/gpu-bench.json --minutes 9

``darkroom simulate --gpu-report`` reads the JSON it writes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from worker.models.checkpoint import load_model
from worker.models.device import pick_device
from worker.models.sid import SID, SIDConfig

FULL_FRAME = (4, 1424, 2128)
ONE_MP = (12, 512, 512)
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MODES = ("eager", "cuda-graph", "compile")  # cheapest first: the time box drops the last rows
# Published dense peaks (no sparsity), TFLOP/s, by precision; the first name found in the device's name wins.
PEAK_TFLOPS = {
    "H100 PCIe": {"fp32": 51.2, "tf32": 378, "bf16": 756, "fp16": 756},
    "H100": {"fp32": 67, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},  # SXM5 ("H100 80GB HBM3")
    "H200": {"fp32": 67, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312},
}
PEAK_SOURCE = "NVIDIA H100, H200 and A100 datasheets: dense tensor-core figures (the sparsity figures halved)"
TARGET_MS = 20.0  # a full frame, the goal on an H100-class GPU


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
            compiled: Callable[[Tensor], Tensor] = torch.compile(net)  # max-autotune would not fit the time box
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


def peak_tflops(device_name: str) -> dict[str, float] | None:
    for name, peaks in PEAK_TFLOPS.items():
        if name in device_name:
            return peaks
    return None


def _row(
    model: SID, case: str, shape: tuple[int, ...], precision: str, mode: str, device: torch.device
) -> dict[str, Any]:
    try:
        if mode == "compile":
            torch._dynamo.reset()  # a fresh cache per dtype and shape: no recompile limit reached
        row = time_variant(model, shape, precision, mode, device)
    except (RuntimeError, torch.OutOfMemoryError) as exc:  # a variant this GPU or build cannot run
        row = {"shape": list(shape), "precision": precision, "mode": mode, "error": str(exc)[:200]}
    row["case"] = case
    if "ms" in row:
        row["tflops"] = round(shape[0] * flops(model, *shape[-2:]) / (row["ms"] / 1000) / 1e12, 1)
    return row


def benchmark(
    device: torch.device, weights: Path | None = None, quick: bool = False, seconds: float = 60.0
) -> dict[str, Any]:
    """Every variant on ``device`` within ``seconds`` (the rest are listed as skipped); ``quick``: one small
    fp32 case, to prove the code runs."""
    started = time.perf_counter()
    raw = load_model(weights)[0] if weights and weights.exists() else SID(SIDConfig())
    srgb = SID(SIDConfig(in_channels=12, residual=True))
    cases: list[tuple[str, SID, tuple[int, ...]]] = [
        ("full frame", raw, (1, *FULL_FRAME)),
        ("full frame, 4 tiles in one batch", raw, (4, 4, FULL_FRAME[1] // 2 + 32, FULL_FRAME[2] // 2 + 32)),
        ("1 MP", srgb, (1, *ONE_MP)),
    ]
    variants = [(p, m) for m in MODES for p in DTYPES]
    if quick:
        cases, variants = [("small", raw, (1, 4, 64, 96))], [("fp32", "eager")]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peaks = peak_tflops(name)
    rows: list[dict[str, Any]] = []
    for precision, mode in variants:
        for case, model, shape in cases:
            if time.perf_counter() - started > seconds:
                rows.append({"case": case, "shape": list(shape), "precision": precision, "mode": mode,
                             "skipped": f"time box ({seconds:.0f} s) spent"})  # fmt: skip
                continue
            row = _row(model, case, shape, precision, mode, device)
            if peaks and "tflops" in row:
                row["share_of_peak"] = round(row["tflops"] / peaks[precision], 3)
            rows.append(row)
    frames = [r for r in rows if r["case"] == "full frame" and "ms" in r]
    best = min(frames, key=lambda r: r["ms"]) if frames else None
    frame_tflop = flops(raw, *FULL_FRAME[1:]) / 1e12
    return {
        "device": name,
        "frame_tflop": round(frame_tflop, 3),
        "peak_tflops": peaks,
        # the FLOP limit: a full frame's time at the published peak, the floor any variant can approach
        "frame_ms_at_peak": peaks and {p: round(frame_tflop / peak * 1000, 3) for p, peak in peaks.items()},
        "peak_source": PEAK_SOURCE if peaks else "no published peak known for this device",
        "target_ms": TARGET_MS,
        "best_full_frame": best and {k: best[k] for k in ("precision", "mode", "ms", "tflops") if k in best},
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }


def pipeline_rate(device: torch.device, weights: Path | None, frames: int = 5, quick: bool = False) -> dict[str, Any]:
    """The worker's RAW path on decoded frames: ``SidEnhancer`` (as the worker runs it: channels-last, bf16
    where the device has it, tiles only beyond the memory budget) and the JPEG encode, one frame at a time.

    LibRaw's decode and S3 are left out (rawpy is not on a bare GPU box); the worker overlaps them and
    the encode with inference (DARKROOM_PIPELINE_DEPTH), so the inference-bound rate is its ceiling."""
    from worker.encode import encode_jpeg
    from worker.frames import RawFrame
    from worker.models.enhance import ModelRunner
    from worker.models.enhancers import SidEnhancer

    model = load_model(weights)[0] if weights and weights.exists() else SID(SIDConfig())
    runner = ModelRunner(model, str(device))
    enhancer = SidEnhancer(runner)
    shape = (4, 64, 96) if quick else FULL_FRAME
    packed = np.random.default_rng(0).uniform(0.0, 0.01, shape).astype(np.float32)
    frame = RawFrame(packed=packed, white_balance=np.ones(3, np.float32), cam_to_srgb=np.eye(3), flip=0)
    enhancer.enhance_raw(frame, 100.0)  # warm-up
    enhance_s, encode_s = [], []
    for _ in range(2 if quick else frames):
        began = time.perf_counter()
        image = enhancer.enhance_raw(frame, 100.0)
        enhance_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        encode_jpeg(image)
        encode_s.append(time.perf_counter() - began)
    enhance, encode = statistics.median(enhance_s), statistics.median(encode_s)
    return {
        "shape": list(shape),
        "bf16": runner.bf16,
        "enhance_s": round(enhance, 4),
        "encode_s": round(encode, 4),
        "raws_per_second": round(1 / (enhance + encode), 2),
        "inference_bound_raws_per_second": round(1 / enhance, 2),
    }


READY = """
import time
from pathlib import Path
import numpy as np
import torch
from worker.models.enhance import ModelRunner, load_kind
from worker.models.enhancers import SidEnhancer, SrgbEnhancer
models = Path({models!r})
runners = [ModelRunner(load_kind(models / f"sid-{{kind}}.safetensors", kind), {device!r}) for kind in ("raw", "srgb")]
for runner in runners:
    runner(np.zeros((runner.config.in_channels, 32, 32), np.float32))
print("ready")
"""


def ready_seconds(device: torch.device, models: Path) -> float:
    """Process start to both shipped models loaded and warmed up on ``device`` (the worker's own start,
    without its AWS clients): a fresh interpreter, so importing torch and initialising CUDA count."""
    began = time.perf_counter()
    code = READY.format(models=str(models), device=str(device))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    return round(time.perf_counter() - began, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu_bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON report to write")
    parser.add_argument("--minutes", type=float, default=9.0, help="the whole command's time (default: 9)")
    parser.add_argument("--device", default="auto", help="default: auto (the GPU)")
    parser.add_argument("--quick", action="store_true", help="one small case: a smoke run, not numbers")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    device = pick_device(args.device)
    models = Path(__file__).resolve().parent.parent / "worker" / "models"
    reserve = 15.0 if args.quick else 120.0  # the pipeline and ready-time measurements after the rows
    report = benchmark(device, models / "sid-raw.safetensors", args.quick, args.minutes * 60 - reserve)
    report["torch"] = torch.__version__
    report["pipeline"] = pipeline_rate(device, models / "sid-raw.safetensors", quick=args.quick)
    report["worker_ready_s"] = ready_seconds(device, models)
    report["seconds"] = round(time.perf_counter() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
