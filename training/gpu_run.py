"""The portable GPU run: train both models from a pack, evaluate them, time inference, write one report.

Needs only PyTorch, numpy, safetensors and Pillow (no rawpy, boto3, flask or
tqdm), so it runs on a bare GPU box that cannot see the data folder::

    python -m training.pack --out .train/pack.tar                      # here, once
    python -m training.gpu_run --pack .train/pack.tar --out $OUT --minutes 8

It trains SID and then the sRGB model, each time-boxed, at a large batch in
bf16, starting from the shipped weights; scores both against ``baseline`` on
the pack's held-out photos; times the networks on a full Sony frame and on
1 MP (``training.gpu_bench``); and writes ``sid-raw.safetensors``,
``sid-srgb.safetensors`` (fp16, about 15 MiB each) and ``report.json`` to
OUT. ``--minutes`` bounds the whole command: the training boxes get what
the evaluation and benchmarks leave.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.config import TrainConfig
from training.evaluate import (
    RawMethod,
    SrgbMethod,
    center_crop,
    eval_raw_pair,
    raw_enhancer,
    score,
    srgb_enhancer,
    summarize,
)
from training.gpu_bench import benchmark
from training.pack import read_pack
from training.train import train
from worker.baseline import Baseline
from worker.models import SidEnhancer, SrgbEnhancer
from worker.models.device import pick_device

SHIPPED = Path(__file__).resolve().parent.parent / "worker" / "models"
KINDS = ("raw", "srgb")


@dataclass
class GpuRunConfig:
    pack: Path
    out: Path
    minutes: float = 8.0  # the whole command
    reserve_minutes: float = 1.5  # of those, for start-up, evaluation and benchmarks
    raw_share: float = 0.6  # of the training time, for SID; the rest for the sRGB model
    batch_size: int = 32
    crop: int = 256
    lr: float = 1e-4
    device: str = "auto"
    init: bool = True  # start from the shipped weights
    eval_images: int = 16  # held-out photos (and pairs) scored
    eval_crop: int = 512  # centre crop of each, in pixels per side
    bench: bool = True


def _train(config: GpuRunConfig, kind: str, minutes: float) -> dict[str, Any]:
    init = SHIPPED / f"sid-{kind}.safetensors"
    run = TrainConfig(
        kind=kind,
        data=config.pack,
        out_dir=config.out / "runs" / kind,
        crop=config.crop,
        batch_size=config.batch_size,
        steps=10**9,
        minutes=minutes,
        lr=config.lr,
        device=config.device,
        init=init if config.init and init.exists() else None,
        checkpoint_every=10**9,  # one checkpoint, at the end of the box
    )
    weights = train(run, progress=False)
    shutil.copyfile(weights, config.out / f"sid-{kind}.safetensors")
    lines = (run.out_dir / "log.jsonl").read_text().splitlines()
    return {"minutes": minutes, "batch_size": config.batch_size, "crop": config.crop, **json.loads(lines[-1])}


def _as_array(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).cpu().numpy().astype(np.float32) / np.float32(255)


def evaluate_on_pack(config: GpuRunConfig, device: str) -> list[dict[str, Any]]:
    """Each model against ``baseline`` on the held-out photos of the pack: RAW at 100, 250, 300; LOL at the oracle."""
    held_out = read_pack(config.pack, "val")
    baseline = Baseline()
    raw: dict[str, RawMethod] = {
        "sid": raw_enhancer(SidEnhancer.from_checkpoint(config.out / "sid-raw.safetensors", device)),
        "baseline": raw_enhancer(baseline),
    }
    srgb: dict[str, SrgbMethod] = {
        "sid-srgb": srgb_enhancer(SrgbEnhancer.from_checkpoint(config.out / "sid-srgb.safetensors", device)),
        "baseline": srgb_enhancer(baseline),
    }
    scores = []
    for i, photo in enumerate(held_out.sources[: config.eval_images]):
        clean = _as_array(photo)
        for ratio in (100.0, 250.0, 300.0):
            pair = eval_raw_pair(center_crop(clean, config.eval_crop), f"val{i}", ratio)
            for name, method in raw.items():
                run = partial(method, pair)
                scores.append(score(name, "synthetic RAW", f"{ratio:g}", f"val{i}", run, pair.target))
    pairs = list(zip(held_out.pairs, held_out.ratios, strict=True))[: config.eval_images]
    for i, ((low, normal), ratio) in enumerate(pairs):
        dark, target = (center_crop(_as_array(image), config.eval_crop) for image in (low, normal))
        for name, srgb_method in srgb.items():
            run = partial(srgb_method, dark, ratio)
            scores.append(score(name, "LOL held-out", "oracle", f"pair{i}", run, target))
    return [asdict(row) for row in summarize(scores)]


def run(config: GpuRunConfig) -> dict[str, Any]:
    began = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
    }
    training_minutes = max(config.minutes - config.reserve_minutes, 0.0)
    for kind, share in zip(KINDS, (config.raw_share, 1 - config.raw_share), strict=True):
        report[f"train_{kind}"] = _train(config, kind, training_minutes * share)
    report["evaluation"] = evaluate_on_pack(config, str(device))
    if config.bench:
        report["inference"] = benchmark(device, config.out / "sid-raw.safetensors", quick=device.type != "cuda")
    report["seconds"] = round(time.perf_counter() - began, 1)
    (config.out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu_run", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pack", type=Path, required=True, help="a training pack (python -m training.pack)")
    parser.add_argument("--out", type=Path, required=True, help="where weights and report.json go")
    parser.add_argument("--minutes", type=float, default=8.0, help="the whole command's time (default: 8)")
    parser.add_argument("--batch-size", type=int, default=32, help="crops per step (default: 32)")
    parser.add_argument("--crop", type=int, default=256, help="output pixels per crop side (default: 256)")
    parser.add_argument("--device", default="auto", help="default: auto")
    parser.add_argument("--eval-images", type=int, default=16, help="held-out photos and pairs scored (default: 16)")
    parser.add_argument("--eval-crop", type=int, default=512, help="their centre crop, pixels (default: 512)")
    parser.add_argument("--no-init", action="store_true", help="train from scratch, not from the shipped weights")
    parser.add_argument("--no-bench", action="store_true", help="skip the inference timings")
    args = parser.parse_args(argv)
    config = GpuRunConfig(
        pack=args.pack,
        out=args.out,
        minutes=args.minutes,
        reserve_minutes=min(1.5, args.minutes / 3),
        batch_size=args.batch_size,
        crop=args.crop,
        device=args.device,
        eval_images=args.eval_images,
        eval_crop=args.eval_crop,
        init=not args.no_init,
        bench=not args.no_bench,
    )
    report = run(config)
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
