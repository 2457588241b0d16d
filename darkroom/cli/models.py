"""``darkroom train`` and ``darkroom eval``: train the learned models (training/) and measure them."""

from __future__ import annotations

import argparse

from darkroom.cli.commands import Commands
from darkroom.evaluation import add_eval_parser


def cmd_train(args: argparse.Namespace) -> int:
    """Train the SID network on synthetic low-light RAW (--kind raw) or the sRGB model (--kind srgb).

    Settings come from --config (a JSON file of TrainConfig fields) and then
    from the options given, which win. Checkpoints carry their config;
    --resume continues a run from its state.pt, --minutes time-boxes it.
    """
    from training.train import run_from_args

    return run_from_args(args)


def add_train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from training.config import add_train_options

    train = commands.add_parser(
        "train", help="train a model (progress bar, checkpoints, resume)", description=cmd_train.__doc__
    )
    add_train_options(train)
    train.set_defaults(run=cmd_train)


def register(commands: Commands) -> None:
    add_train_parser(commands)
    add_eval_parser(commands)
