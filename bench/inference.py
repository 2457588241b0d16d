"""Inference: darkroom's path against plain fp32 NCHW eager PyTorch, time and peak memory.

Each variant runs in a fresh process (``python -m bench.inference child ...``)
so its peak memory is its own. Inputs: a full Sony frame (4240x2832 RAW,
packed 4x1416x2120) through the shipped RAW model, and a 1-megapixel JPEG's
planes (12x432x576 after space-to-depth) through the shipped sRGB model.
Each child saves its output, and the table gives the largest difference from
the plain path's output on the [0, 1] scale.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import Table, machine, median_seconds, peak_rss_mb, ratio, run_child

MODELS = Path(__file__).resolve().parents[1] / "worker" / "models"
INPUTS = {"raw": ("sid-raw.safetensors", (4, 1416, 2120)), "jpeg": ("sid-srgb.safetensors", (12, 432, 576))}
CPU_VARIANTS = ("plain", "channels-last", "bf16", "darkroom", "onnxruntime", "openvino")
GPU_VARIANTS = ("plain-cuda", "darkroom-cuda", "darkroom-cuda-compiled")
LABELS = {
    "plain": "plain fp32 NCHW eager, one pass (baseline)",
    "channels-last": "fp32 channels-last, inference_mode, one pass",
    "bf16": "bf16 autocast, channels-last, one pass",
    "darkroom": "darkroom: ModelRunner, torch engine (channels-last, precision auto, tiled under budget)",
    "onnxruntime": "darkroom: GraphRunner, onnxruntime engine (fp32, CPU provider, tiled under budget)",
    "openvino": "darkroom: GraphRunner, openvino engine (CPU plugin, its default precision, tiled under budget)",
    "plain-cuda": "plain fp32 NCHW eager on the GPU (baseline)",
    "darkroom-cuda": "darkroom: ModelRunner on the GPU (bf16, channels-last, cudnn.benchmark)",
    "darkroom-cuda-compiled": "darkroom + torch.compile (max-autotune, CUDA graphs)",
}


def planes_for(kind: str) -> np.ndarray:
    """Dark, noisy model input of the benchmark's size (values as the network sees them after amplification)."""
    rng = np.random.default_rng(0)
    shape = INPUTS[kind][1]
    return np.clip(rng.gamma(2.0, 0.08, size=shape), 0.0, 1.0).astype(np.float32)


def variant_runner(variant: str, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function under test: planes in, (H, W, 3) float32 in [0, 1] out."""
    if variant in ("onnxruntime", "openvino"):  # no torch in this process
        from worker.models.onnx_graph import GraphRunner

        return GraphRunner.from_checkpoint(MODELS / INPUTS[kind][0], "srgb" if kind == "jpeg" else "raw", variant)
    import torch

    from worker.models.checkpoint import load_model
    from worker.models.enhance import ModelRunner

    model, _ = load_model(MODELS / INPUTS[kind][0])
    model.eval()
    cuda = variant.endswith("cuda") or "cuda-" in variant
    if variant.startswith("darkroom"):
        if cuda:
            torch.backends.cudnn.benchmark = True
        runner = ModelRunner(model, "cuda" if cuda else "cpu", "auto")
        if variant.endswith("compiled"):
            runner.model = torch.compile(runner.model, mode="max-autotune")  # type: ignore[assignment]
        return runner
    device = torch.device("cuda" if cuda else "cpu")
    model = model.to(device)
    channels_last = variant in ("channels-last", "bf16")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def plain(planes: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(planes)[None].to(device)
        context = torch.inference_mode() if channels_last else torch.no_grad()
        with context, torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant == "bf16"):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out = model(x).float().clamp(0.0, 1.0)[0].permute(1, 2, 0).cpu()
        image: np.ndarray = out.numpy()
        return image

    return plain


def child(variant: str, kind: str, repeats: int, save: Path) -> dict[str, object]:
    cuda = "cuda" in variant
    if cuda:
        import torch
    run = variant_runner(variant, kind)
    planes = planes_for(kind)
    holder: dict[str, np.ndarray] = {}

    def once() -> None:
        holder["out"] = run(planes)
        if cuda:
            torch.cuda.synchronize()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    once()  # the first call: kernel selection, allocator growth, compilation
    first = time.perf_counter() - started
    seconds = median_seconds(once, repeats, warmup=0) if repeats else first
    np.save(save, holder["out"])
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    bf16 = float(getattr(run, "bf16", False))  # the precision ModelRunner's "auto" chose
    return {"seconds": seconds, "first_seconds": first, "peak_mb": peak, "bf16": bf16}


def run(quick: bool = False) -> list[Table]:
    """Round-robin: every variant once per round, each in a fresh process, so load drifting on a shared
    machine hits every variant alike; the median is over rounds, the peak the largest seen."""
    import torch

    from worker.models.device import native_cpu_bf16

    cuda = torch.cuda.is_available()
    rounds = 1 if quick else 3
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, label in (("raw", "full Sony frame, packed 4x1416x2120"), ("jpeg", "1 MP JPEG, planes 12x432x576")):
            repeats = 0 if kind == "raw" else 3  # a full frame's first call is its steady state, within noise
            # bf16 on the full frame only where the CPU has it natively (emulated, it is 2x slower)
            variants = [v for v in CPU_VARIANTS if not (kind == "raw" and v == "bf16" and not native_cpu_bf16())]
            if cuda:
                variants += list(GPU_VARIANTS)
            per_call = "one call" if repeats == 0 else f"median of {repeats} calls after a warm-up call"
            table = Table(
                f"Inference: {label}",
                machine("cuda" if cuda else "cpu"),
                f"{label}; shipped weights; {rounds} rounds, every variant once per round in a fresh process "
                f"({per_call}); median over rounds",
                ["variant", "median s", "first call s", "vs baseline", "peak MB", "max abs diff vs plain"],
            )
            runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
            for round_ in range(rounds):
                for variant in variants:
                    args = ["child", variant, kind, str(repeats), str(Path(tmp) / f"{kind}-{variant}.npy")]
                    found = {k: float(v) for k, v in run_child("bench.inference", args).items()}  # type: ignore[arg-type]
                    runs[variant].append(found)
                    print(f"  inference {kind} {variant} round {round_ + 1}: {found['seconds']:.2f} s", file=sys.stderr)
            reference = np.load(Path(tmp) / f"{kind}-plain.npy")
            medians = {v: statistics.median(r["seconds"] for r in runs[v]) for v in variants}
            for variant in variants:
                base = medians["plain-cuda" if "cuda" in variant else "plain"]
                diff = float(np.abs(np.load(Path(tmp) / f"{kind}-{variant}.npy") - reference).max())
                first = statistics.median(r["first_seconds"] for r in runs[variant])
                peak = max(r["peak_mb"] for r in runs[variant])
                label = LABELS[variant]
                if variant.startswith("darkroom"):
                    chose = sorted({"bf16" if r["bf16"] else "fp32" for r in runs[variant]})
                    label += f": chose {' and '.join(chose)}"
                table.add(label, medians[variant], first, ratio(medians[variant], base), peak, f"{diff:.1e}")
            if not cuda:
                table.notes.append("GPU variants skipped: no CUDA")
            table.notes.append(f"CPU: {cpu_features()}; {versions('onnxruntime', 'openvino')}")
            table.notes.append("target (CPU, full frame): at most 0.5x the plain fp32 time, peak under 2 GB")
            tables.append(table)
    return tables


def cpu_features() -> str:
    """What decides the CPU path: AVX-512, native bf16 (AVX512_BF16, AMX)."""
    from worker.methods import NATIVE_BF16, cpu_flags

    flags = cpu_flags()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    bf16 = "native bf16 (" + ", ".join(sorted(flags & NATIVE_BF16)) + ")" if flags & NATIVE_BF16 else "no native bf16"
    return f"{vector}, {bf16}"


def versions(*names: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inference", description=__doc__)
    parser.add_argument("mode", choices=["child", "table"])
    parser.add_argument("variant", nargs="?")
    parser.add_argument("kind", nargs="?", choices=sorted(INPUTS))
    parser.add_argument("repeats", nargs="?", type=int, default=3)
    parser.add_argument("save", nargs="?", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "child":
        print(json.dumps(child(args.variant, args.kind, args.repeats, args.save)))
    else:
        for table in run(args.quick):
            print(table.markdown())


if __name__ == "__main__":
    main()
