"""``darkroom eval``: PSNR and SSIM of the models, ``baseline`` and LibRaw on held-out data, as a Markdown table.

The measuring itself is ``training.evaluate``; this module only chooses the
data and the methods, shows progress and prints. It also owns the one piece
that needs ``darkroom``: writing a synthetic RAW pair as a DNG for LibRaw.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.evaluate import RawMethod, RawPair, Row, SrgbMethod


def pair_dng(pair: RawPair) -> bytes:
    """The synthetic RAW as a camera would have written it: its mosaic, CFA, levels, white balance and matrix."""
    from darkroom.dng import dng_bytes

    red, green, blue = (float(1 / gain) for gain in pair.white_balance)  # AsShotNeutral: the gains' reciprocals
    return dng_bytes(pair.mosaic, pair.pattern, pair.black_level, pair.white_level, (red, green, blue), pair.xyz_to_cam)


@dataclass(frozen=True)
class EvalConfig:
    """What ``darkroom eval`` measures; the defaults are the flags' defaults."""

    data: Path = Path("../shared/data")  # holds clean/ and lol-train/ (low/, normal/)
    raw_model: Path | None = None
    srgb_model: Path | None = None
    limit: int = 0  # images per data set; 0: all
    crop: int = 512
    ratios: tuple[float, ...] = (100.0, 250.0, 300.0)
    device: str = "auto"
    val_fraction: float = 0.1


def spread(items: Sequence[object], limit: int) -> list[int]:
    """Indices of ``limit`` items evenly spread over the list (all when limit is 0), so every folder is sampled."""
    if limit <= 0 or limit >= len(items):
        return list(range(len(items)))
    step = len(items) / limit
    return [int(i * step) for i in range(limit)]


def build_methods(config: EvalConfig) -> tuple[dict[str, RawMethod], dict[str, SrgbMethod]]:
    """The RAW and the sRGB methods to compare, models first; torch is loaded only when a model is given."""
    from training.evaluate import libraw_method, raw_enhancer, srgb_enhancer
    from worker.baseline import Baseline

    baseline = Baseline()
    raw_methods: dict[str, RawMethod] = {}
    srgb_methods: dict[str, SrgbMethod] = {}
    if config.raw_model is not None:
        from worker.models import SidEnhancer

        raw_methods["sid"] = raw_enhancer(SidEnhancer.from_checkpoint(config.raw_model, _device(config.device)))
    raw_methods["baseline"] = raw_enhancer(baseline)
    raw_methods["libraw"] = libraw_method(pair_dng)
    if config.srgb_model is not None:
        from worker.models import SrgbEnhancer

        srgb_model = SrgbEnhancer.from_checkpoint(config.srgb_model, _device(config.device))
        srgb_methods["sid-srgb"] = srgb_enhancer(srgb_model)
    srgb_methods["baseline"] = srgb_enhancer(baseline)
    return raw_methods, srgb_methods


def evaluate(
    config: EvalConfig,
    raw_methods: Mapping[str, RawMethod],
    srgb_methods: Mapping[str, SrgbMethod],
    progress: bool = True,
) -> list[Row]:
    """Score every method on the held-out images; one row per method, data set and ratio."""
    from tqdm import tqdm

    from training.evaluate import (
        lol_validation_pairs,
        raw_validation_images,
        score_lol_pair,
        score_raw_image,
        summarize,
    )

    clean_dirs, lol_dirs = [config.data / "clean"], [config.data / "lol-train"]
    raw_images = raw_validation_images(clean_dirs, lol_dirs, config.val_fraction)
    raw_images = [raw_images[i] for i in spread(raw_images, config.limit)]
    pairs = lol_validation_pairs(lol_dirs, config.val_fraction)
    pairs = [pairs[i] for i in spread(pairs, config.limit)]
    if not raw_images and not pairs:
        raise FileNotFoundError(f"no held-out images under {config.data} (expected clean/ and lol-train/)")

    scores = []
    with tqdm(total=len(raw_images) + len(pairs), unit="image", disable=not progress, dynamic_ncols=True) as bar:
        for path in raw_images:
            scores += score_raw_image(path, raw_methods, config.ratios, config.crop)
            bar.update(1)
        for low, normal in pairs:
            scores += score_lol_pair(low, normal, srgb_methods, config.crop)
            bar.update(1)
    return summarize(scores)


def _device(name: str) -> str:
    from worker.models.device import pick_device

    return str(pick_device(name))


def describe(config: EvalConfig) -> str:
    """What the table measured, in a sentence or two, to keep beside it."""
    crop = f"centre crop {config.crop} px" if config.crop > 0 else "whole images"
    limit = f"at most {config.limit} images per data set" if config.limit > 0 else "all held-out images"
    return (
        f"Held-out validation images of {config.data} (name-hash split, fraction {config.val_fraction}), {limit}, "
        f"{crop}. Synthetic RAW at ratios {', '.join(f'{r:g}' for r in config.ratios)}; "
        f"LOL with the automatic and the oracle ratio. RAW model: {config.raw_model or 'none'}; "
        f"sRGB model: {config.srgb_model or 'none'}.\n"
    )


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure PSNR and SSIM on held-out validation data the trainer never sees, and print a Markdown table.

    Synthetic RAW: each held-out clean photo (DATA/clean and DATA/lol-train/normal)
    becomes a dark noisy RAW at each --ratios value (the same pair for every
    method, seeded by the file name). Compared: the RAW model (--raw-model),
    baseline, and LibRaw's own rendering brightened by the same ratio.
    LOL: held-out real pairs of DATA/lol-train, for the sRGB model
    (--srgb-model) and baseline, each with the automatic ratio and with the
    pair's true (oracle) ratio.
    """
    from training.evaluate import format_table

    config = EvalConfig(
        data=args.data,
        raw_model=args.raw_model,
        srgb_model=args.srgb_model,
        limit=args.limit,
        crop=args.crop,
        ratios=tuple(args.ratios),
        device=args.device,
        val_fraction=args.val_fraction,
    )
    for model in (config.raw_model, config.srgb_model):
        if model is not None and not model.is_file():
            print(f"darkroom eval: no such model file: {model}", file=sys.stderr)
            return 2
    try:
        raw_methods, srgb_methods = build_methods(config)
    except ValueError as exc:  # CheckpointError: not a darkroom model, or a model of the other kind
        print(f"darkroom eval: {exc}", file=sys.stderr)
        return 2
    try:
        rows = evaluate(config, raw_methods, srgb_methods)
    except FileNotFoundError as exc:
        print(f"darkroom eval: {exc}", file=sys.stderr)
        return 2
    report = describe(config) + "\n" + format_table(rows)
    print(report)
    if args.out is not None:
        args.out.write_text(report)
        print(f"wrote {args.out}")
    return 0


def add_eval_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``darkroom eval`` to the command's subparsers."""
    parser = commands.add_parser(
        "eval",
        help="measure PSNR/SSIM of the models, baseline and LibRaw on held-out data",
        description=inspect.cleandoc(cmd_eval.__doc__ or ""),
        epilog="example:\n  darkroom eval --raw-model runs/sid-raw/model.safetensors --limit 8 --out results.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--raw-model", type=Path, metavar="PATH", help="RAW (SID) weights, a .safetensors file; omit to skip the model")
    add("--srgb-model", type=Path, metavar="PATH", help="sRGB model weights, a .safetensors file; omit to skip")
    add(
        "--data",
        type=Path,
        default=Path("../shared/data"),
        metavar="DIR",
        help="folder holding clean/ and lol-train/{low,normal}/ (default: %(default)s)",
    )
    add(
        "--limit",
        type=int,
        default=0,
        metavar="N",
        help="at most N images per data set, spread evenly over the sorted list (default: 0, all)",
    )
    add(
        "--crop",
        type=int,
        default=512,
        metavar="PX",
        help="centre crop in pixels per side, to bound the time; 0 keeps whole images (default: %(default)s)",
    )
    add(
        "--ratios",
        type=float,
        nargs="+",
        default=[100.0, 250.0, 300.0],
        metavar="R",
        help="amplification ratios of the synthetic RAW, one row each (default: 100 250 300)",
    )
    add("--device", default="auto", help="where the models run: auto, cpu, cuda (default: %(default)s)")
    add(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="held-out share of the name-hash split; must match the training run's (default: %(default)s)",
    )
    add("--out", type=Path, metavar="FILE", help="also write the description and table (Markdown) to FILE")
    parser.set_defaults(run=cmd_eval)
