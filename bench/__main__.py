"""``python -m bench`` (``make bench``): run the benchmarks and rewrite their tables in BENCHMARKS.md.

Each benchmark's tables go between its own markers, so running one
benchmark (``--only api``) leaves the others' tables as they were; each
table carries the date it was measured and the machine.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import api_load, coldstart, inference, lambda_coldstart, pipeline, tiles, validation
from bench.common import REPO, Table

BENCHMARKS: dict[str, Callable[[bool], list[Table]]] = {
    "inference": inference.run,
    "tiles": tiles.run,
    "pipeline": pipeline.run,
    "coldstart": coldstart.run,
    "lambda": lambda_coldstart.run,
    "validation": validation.run,
    "api": api_load.run,
}
HEADER = """# Benchmarks

`make bench` (``python -m bench``) measures every stage of darkroom against
the obvious way of doing it, in the same run, and rewrites the tables below
(between the markers) with the date and the machine. Ratios are the numbers
to read on a shared or noisy machine: both sides of each ratio ran within
minutes of each other under the same conditions. How each benchmark works is
in its module's docstring under bench/.

"""


def section(name: str, tables: list[Table], when: str) -> str:
    body = "\n".join(table.markdown() for table in tables)
    return f"<!-- bench:{name}:start -->\n## {name}\n\nMeasured {when}.\n\n{body}<!-- bench:{name}:end -->\n"


def rewrite(document: str, name: str, text: str) -> str:
    """Replace ``name``'s section between its markers, or append it."""
    pattern = re.compile(rf"<!-- bench:{name}:start -->.*?<!-- bench:{name}:end -->\n?", re.DOTALL)
    if pattern.search(document):
        return pattern.sub(lambda _: text, document)
    return document.rstrip("\n") + "\n\n" + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not numbers to keep")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md", help="the file to rewrite")
    parser.add_argument("--note", default="", help="a line to add to each section (e.g. 'machine shared')")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    document = args.output.read_text() if args.output.exists() else HEADER
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name} ...", file=sys.stderr)
        started = time.perf_counter()
        tables = BENCHMARKS[name](args.quick)
        for table in tables:
            if args.note:
                table.notes.append(args.note)
            print(table.markdown())
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        document = rewrite(document, name, section(name, tables, when))
        args.output.write_text(document)  # after each benchmark, so an interrupted run keeps what it measured
        print(f"[{index}/{len(names)}] {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
