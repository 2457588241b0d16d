"""``darkroom enhance`` and ``darkroom sample``: brighten files with no servers; write a dark test photo."""

from __future__ import annotations

import argparse
from pathlib import Path

from darkroom.cli.commands import Commands, add_command
from darkroom.enhance import SAMPLE_EXPOSURE
from worker.settings import DEFAULTS, METHODS


def cmd_enhance(args: argparse.Namespace) -> int:
    """Run files through decode -> enhance -> encode, with no servers."""
    from darkroom.enhance import enhance_files

    return enhance_files(args.inputs, args.output, args.ratio, args.method)


def cmd_sample(args: argparse.Namespace) -> int:
    """Write a dark test photo: a RAW (.dng) or a JPEG/PNG."""
    from darkroom.enhance import write_sample

    write_sample(args.output, args.exposure)
    print(f"wrote {args.output}")
    return 0


def register(commands: Commands) -> None:
    enhance = add_command(commands, "enhance", cmd_enhance, help="brighten files directly, no servers")
    enhance.add_argument("inputs", nargs="+", type=Path, help="RAW (DNG, ARW, NEF, CR2, ...) or JPEG/PNG/TIFF files")
    enhance.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="output .jpg for one input, or a folder for several (default: beside each input)",
    )
    enhance.add_argument("--ratio", default="auto", help="amplification 1..300, or auto (default: %(default)s)")
    enhance.add_argument("--method", choices=METHODS, help=f"what runs on every input (default: {DEFAULTS})")

    sample = add_command(commands, "sample", cmd_sample, help="write a dark test photo to try darkroom with")
    sample.add_argument("output", type=Path, help="file to write: .dng for RAW, .jpg or .png for sRGB")
    sample.add_argument(
        "--exposure",
        type=float,
        default=SAMPLE_EXPOSURE,
        help="fraction of a normal exposure (default: %(default)s, i.e. 100x too dark)",
    )
