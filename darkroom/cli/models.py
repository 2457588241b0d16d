"""``darkroom train`` and ``darkroom eval``: train the learned models, and measure them against the baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from darkroom.cli.commands import Commands
from darkroom.evaluation import add_eval_parser


def cmd_train(args: argparse.Namespace) -> int:
    """Train the SID network on synthetic low-light RAW (--kind raw) or the sRGB model (--kind srgb).

    Settings come from --config (a JSON file of TrainConfig fields) and then
    from the flags given, which win. Checkpoints carry their config; --resume
    continues a run from its state.pt.
    """
    import json

    from worker.train import TrainConfig, train

    values = json.loads(args.config.read_text()) if args.config else {}
    flags = {name: getattr(args, name) for name in TRAIN_FLAGS if getattr(args, name) is not None}
    config = TrainConfig.from_dict({**values, **flags})
    print(json.dumps(config.to_dict(), indent=2))
    weights = train(config)
    print(f"weights: {weights}")
    return 0


TRAIN_FLAGS = (
    "kind",
    "clean_dirs",
    "lol_dirs",
    "out_dir",
    "crop",
    "batch_size",
    "steps",
    "lr",
    "seed",
    "device",
    "resume",
    "init",
    "checkpoint_every",
    "width",
    "workers",
)


def add_train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "train", help="train a model (progress bar, checkpoints, resume)", description=cmd_train.__doc__
    )
    train.add_argument("--config", type=Path, help="JSON file of training settings")
    train.add_argument("--kind", choices=["raw", "srgb"], help="which model (default: raw)")
    train.add_argument("--clean", dest="clean_dirs", nargs="+", help="folders of clean photos (searched recursively)")
    train.add_argument("--lol", dest="lol_dirs", nargs="+", help="folders holding low/ and normal/ pairs")
    train.add_argument("--out", dest="out_dir", help="where checkpoints go (default: runs/sid)")
    train.add_argument("--steps", type=int, help="optimizer steps in all (default: 20000)")
    train.add_argument("--batch-size", type=int, help="crops per step (default: 8)")
    train.add_argument("--crop", type=int, help="output pixels per crop side, a multiple of 32 (default: 256)")
    train.add_argument("--lr", type=float, help="peak learning rate, cosine-decayed (default: 1e-4)")
    train.add_argument("--width", type=int, help="channels of the first U-Net level (default: 32, as published)")
    train.add_argument("--seed", type=int, help="random seed: same seed, same batches (default: 0)")
    train.add_argument("--device", help="auto, cpu, cuda (default: auto; bf16 autocast on GPU)")
    train.add_argument("--workers", type=int, help="data loader processes (default: 0)")
    train.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: 1000)")
    train.add_argument("--resume", help="a state.pt to continue from (same optimizer, same batches)")
    train.add_argument("--init", help="weights (.safetensors, e.g. the shipped ones) to start from, fresh optimizer")
    train.set_defaults(run=cmd_train)


def register(commands: Commands) -> None:
    add_train_parser(commands)
    add_eval_parser(commands)
