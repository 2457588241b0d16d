"""The ``darkroom`` command: one module per command group, each a thin layer over the programmatic API.

local     up, soak           the whole system on this machine (darkroom.local)
photos    enhance, sample    brighten files with no servers; write a dark test photo
models    train, eval        train and measure the learned models
keys      key                an API key and the hash to configure
config    config             every DARKROOM_* setting, as docs/configuration.md lists them
deploy    deploy, ami        the AWS side (darkroom.deploy)
simulate  simulate           what a photo costs (darkroom.simulate)

Each module's ``register`` adds its subcommands (``commands.add_command``);
options take their defaults from the config dataclasses they fill. Commands
import what they need when they run, so ``darkroom --help`` is instant and
``darkroom up`` never loads torch into this process.
"""

from __future__ import annotations

import argparse
import logging

from darkroom.cli import config, deploy, keys, local, models, photos, simulate

GROUPS = (local, photos, models, keys, config, deploy, simulate)

EPILOG = """examples:
  darkroom up                                  # the whole system on http://127.0.0.1:8080
  darkroom up --chaos 30                       # ... and interrupt or kill a random worker every 30 s
  darkroom sample dark.dng                     # make a dark test photo (RAW); .jpg for a JPEG
  darkroom enhance dark.dng -o bright.jpg      # one file, no servers
  darkroom enhance *.jpg -o out/               # many files, with a progress bar
  darkroom simulate --per-day 1000             # what a photo costs on the spot pool, and the alternatives
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darkroom",
        description="Brighten photos taken in the dark: the local stack, one-off enhancement and tools.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    code: int = args.run(args)
    return code
