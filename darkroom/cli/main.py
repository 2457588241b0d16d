"""``darkroom``: the parser made of every command group (darkroom/cli/__init__.py lists them), and ``main``."""

from __future__ import annotations

import argparse
import logging

from darkroom.cli import config, deploy, dlq, keys, local, models, photos, simulate

GROUPS = (local, photos, models, keys, dlq, config, deploy, simulate)

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
