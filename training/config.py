"""What a training run does, as one dataclass whose fields are also the command's options (uvicorn-style).

No torch here: ``darkroom --help`` builds its options without loading it.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


def option(default: Any, doc: str) -> Any:
    """A config field with the one-line doc its command-line option shows."""
    return field(default=default, metadata={"doc": doc})


@dataclass
class TrainConfig:
    """What one training run does; ``python -m training.train --help`` lists the same fields as options."""

    kind: str = option("raw", "which model: raw (SID on synthetic RAW) or srgb (dark JPEG/PNG)")
    data: Path = option(Path("../shared/data"), "a folder holding clean/ and lol-train/, or a pack (training.pack)")
    out_dir: Path = option(Path("runs/sid"), "where checkpoints and the log go")
    crop: int = option(256, "output pixels per side of a training crop, a multiple of 32")
    batch_size: int = option(8, "crops per step")
    steps: int = option(20_000, "the schedule's length in steps, and a cap on a time-boxed run")
    minutes: float = option(0.0, "a time box in minutes; the schedule then follows the time (0: run all the steps)")
    lr: float = option(2e-4, "peak learning rate, cosine-decayed")
    final_lr_fraction: float = option(0.01, "the learning rate ends at lr times this")
    ssim_weight: float = option(0.2, "loss = L1 + this * (1 - SSIM)")
    real_fraction: float = option(0.5, "srgb: share of each batch from real low/normal pairs")
    ratio_jitter: float = option(0.25, "srgb: the input's ratio is off by N(0, this) stops, as a predicted one is")
    seed: int = option(0, "random seed: same seed, same batches")
    device: str = option("auto", "auto, cpu, cuda, cuda:1, ... (bf16 autocast on GPUs and native-bf16 CPUs)")
    resume: Path | None = option(None, "a state.pt to continue from (same optimizer and step)")
    init: Path | None = option(None, "weights (.safetensors, e.g. the shipped ones) to start from, fresh optimizer")
    checkpoint_every: int = option(500, "steps between checkpoints (and validation)")
    width: int = option(32, "channels of the first U-Net level (32, as published)")
    val_crops: int = option(16, "held-out crops the validation PSNR is measured on")

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (paths as text), for checkpoints and logs."""
        return {name: str(v) if isinstance(v, Path) else v for name, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of ``to_dict``, for config files; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        if set(values) - known:
            raise ValueError(f"unknown training settings: {sorted(set(values) - known)}")
        paths = {"data", "out_dir", "resume", "init"}
        converted: dict[str, Any] = {k: Path(v) if k in paths and v is not None else v for k, v in values.items()}
        return cls(**converted)

    def check(self) -> None:
        if self.kind not in ("raw", "srgb"):
            raise ValueError(f"kind must be 'raw' or 'srgb', got {self.kind!r}")
        if self.crop % 32 or self.crop <= 0:
            raise ValueError(f"crop must be a positive multiple of 32, got {self.crop}")
        if self.batch_size < 1 or self.steps < 1 or self.minutes < 0:
            raise ValueError("batch_size and steps must be at least 1, minutes at least 0")


def add_options(parser: argparse.ArgumentParser, config: type[Any]) -> None:
    """One ``--name`` option per field of a dataclass, with its doc and default; unset options stay None."""
    hints = typing.get_type_hints(config)
    for item in fields(config):
        kind = hints[item.name]
        if isinstance(kind, types.UnionType):  # "Path | None"
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        default = item.default if item.default is not MISSING else None
        parser.add_argument(
            f"--{item.name.replace('_', '-')}",
            type=kind,
            default=None,
            metavar=item.name.upper(),
            help=f"{item.metadata.get('doc', '')} (default: {default})",
        )


def add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="a JSON file of these settings; the options given win")
    add_options(parser, TrainConfig)


def config_from_args(args: argparse.Namespace, config: type[Any]) -> Any:
    """The dataclass from --config (a JSON file of its fields), then the options given, which win."""
    values = json.loads(args.config.read_text()) if getattr(args, "config", None) else {}
    given = {f.name: getattr(args, f.name) for f in fields(config) if getattr(args, f.name, None) is not None}
    return config.from_dict({**values, **given})
