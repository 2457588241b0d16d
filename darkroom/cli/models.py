"""``darkroom train`` and ``darkroom eval``: train the learned models (training/) and measure them."""

from __future__ import annotations

import argparse
from pathlib import Path

from darkroom.cli.commands import Commands, add_command
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


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish weights to the workers: upload FILE to the job bucket and point {path}/{kind} in SSM at it.

    Workers read the parameter when they start (DARKROOM_MODEL_PARAMETERS); the AMI's baked weights stay
    the fallback. Rolling back is publishing the previous file again.
    """
    import os

    from darkroom.deploy.publish import publish_model
    from jobs.aws import s3_client, ssm_client
    from jobs.settings import AwsSettings

    aws = AwsSettings.from_env(os.environ)
    location = publish_model(s3_client(aws), ssm_client(aws), aws.bucket, args.parameters, args.kind, args.file)
    print(location)
    return 0


def register(commands: Commands) -> None:
    add_train_parser(commands)
    add_eval_parser(commands)
    model = commands.add_parser("model", help="publish new weights to the workers (no AMI rebuild)")
    actions = model.add_subparsers(dest="action", required=True, metavar="ACTION")
    publish = add_command(actions, "publish", cmd_publish)
    publish.add_argument("file", type=Path, metavar="FILE", help="a shipping checkpoint (.safetensors)")
    publish.add_argument("--kind", choices=("raw", "srgb"), required=True, help="which input kind it enhances")
    publish.add_argument(
        "--parameters", default="/darkroom/models", help="the SSM path the workers read (default: %(default)s)"
    )
