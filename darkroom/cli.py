"""The ``darkroom`` command: a thin CLI over the programmatic API.

Each command imports what it needs inside its function, so ``darkroom --help``
is instant and ``darkroom up`` never loads torch into this process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from darkroom.deploy_cli import add_deploy_parsers
from darkroom.evaluation import add_eval_parser
from darkroom.simulate.cli import add_simulate_parser

if TYPE_CHECKING:
    from darkroom.stack import StackConfig

EPILOG = """examples:
  darkroom up                                  # the whole system on http://127.0.0.1:8080
  darkroom up --chaos 30                       # ... and interrupt or kill a random worker every 30 s
  darkroom sample dark.dng                     # make a dark test photo (RAW); .jpg for a JPEG
  darkroom enhance dark.dng -o bright.jpg      # one file, no servers
  darkroom enhance *.jpg -o out/               # many files, with a progress bar
  darkroom simulate --per-day 1000             # what a photo costs on the spot pool, and the alternatives
"""


def cmd_up(args: argparse.Namespace) -> int:
    """Bring up moto, the API under uWSGI and the spot pool's fleet emulator; stop all on Ctrl-C.

    The stack starts with no worker: the first upload (or the page's warm
    call) makes the API launch an instance in the emulator, which the fleet
    plays as a worker process; an idle worker stops and its instance ends.
    --workers N runs N always-on workers instead, with no pool.
    """
    from darkroom.stack import LocalStack, PoolConfig, StackConfig

    pool = None
    if args.workers == 0:
        pool = PoolConfig(
            max_workers=args.max_workers,
            boot_seconds=args.boot_seconds,
            idle_seconds=args.idle_seconds,
            chaos_seconds=args.chaos,
        )
    config = StackConfig(
        host=args.host,
        api_port=args.port,
        moto_port=args.moto_port,
        workers=args.workers,
        pool=pool,
        method=args.method,
        from_template=True,
    )
    stack = LocalStack(config)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log would drown the stack's

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # explicitly: a shell may start us with SIGINT ignored
    try:
        stack.start()
        print(
            f"\ndarkroom is up at {config.api_url}\n"
            f"  curl -F image=@dark.jpg {config.api_url}/v1/jobs      # answers with the job's id\n"
            f"  curl {config.api_url}/v1/jobs/<id>                    # poll until status is done\n"
            f"  curl -L -o bright.jpg {config.api_url}/v1/jobs/<id>/result\n"
            f"{workers_line(config)}\n"
            f"AWS emulator: {stack.aws.endpoint_url}   Ctrl-C stops everything.\n",
            flush=True,
        )
        code = stack.wait()
        print(f"a darkroom process exited with code {code}; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping darkroom...", file=sys.stderr)
        return 0
    finally:
        stack.stop()


def workers_line(config: StackConfig) -> str:
    """What the person who ran ``darkroom up`` should expect of the workers."""
    pool = config.pool
    if pool is None:
        return f"workers: {config.workers} always on (no spot pool)"
    line = (
        f"workers: none yet; an upload or a warm call launches one (at most {pool.max_workers}),\n"
        f"  which stops after {pool.idle_seconds:.0f} s idle.  curl {config.api_url}/v1/pool  shows them"
    )
    if pool.chaos_seconds > 0:
        line += f"\nchaos: a random worker is interrupted or killed every {pool.chaos_seconds:.0f} s"
    return line


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darkroom",
        description="Brighten photos taken in the dark: the local stack, one-off enhancement and tools.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up", help="run the whole system on this machine (what `make run` does)", description=cmd_up.__doc__
    )
    up.add_argument("--host", default="127.0.0.1", help="address the API listens on (default: %(default)s)")
    up.add_argument("--port", type=int, default=8080, help="API port (default: %(default)s)")
    up.add_argument("--moto-port", type=int, default=4566, help="AWS emulator port (default: %(default)s)")
    up.add_argument(
        "--workers",
        type=int,
        default=0,
        help="always-on worker processes instead of the spot pool (default: 0, the pool launches them on demand)",
    )
    up.add_argument("--max-workers", type=int, default=3, help="the pool's maximum (default: %(default)s)")
    up.add_argument(
        "--boot-seconds", type=float, default=2.0, help="emulated instance boot time (default: %(default)s)"
    )
    up.add_argument(
        "--idle-seconds", type=float, default=120.0, help="an idle worker stops after this (default: %(default)s)"
    )
    up.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="interrupt or kill a random worker this often (default: never)",
    )
    up.add_argument("--method", default="baseline", help="enhancement method the workers run (default: %(default)s)")
    up.set_defaults(run=cmd_up)

    enhance = commands.add_parser(
        "enhance", help="brighten files directly, no servers", description=cmd_enhance.__doc__
    )
    enhance.add_argument("inputs", nargs="+", type=Path, help="RAW (DNG, ARW, NEF, CR2, ...) or JPEG/PNG/TIFF files")
    enhance.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="output .jpg for one input, or a folder for several (default: beside each input)",
    )
    enhance.add_argument("--ratio", default="auto", help="amplification 1..300, or auto (default: %(default)s)")
    enhance.add_argument("--method", default="baseline", help="enhancement method (default: %(default)s)")
    enhance.set_defaults(run=cmd_enhance)

    sample = commands.add_parser(
        "sample", help="write a dark test photo to try darkroom with", description=cmd_sample.__doc__
    )
    sample.add_argument("output", type=Path, help="file to write: .dng for RAW, .jpg or .png for sRGB")
    sample.add_argument(
        "--exposure",
        type=float,
        default=1 / 100,
        help="fraction of a normal exposure (default: 0.01, i.e. 100x too dark)",
    )
    sample.set_defaults(run=cmd_sample)
    add_train_parser(commands)
    add_eval_parser(commands)
    add_soak_parser(commands)
    key = commands.add_parser("key", help="make an API key and the hash to configure", description=cmd_key.__doc__)
    key.set_defaults(run=cmd_key)
    add_deploy_parsers(commands)
    add_simulate_parser(commands)
    return parser


def cmd_key(args: argparse.Namespace) -> int:
    """Print a new API key (give it to the client) and its SHA-256 (add it to DARKROOM_API_KEY_HASHES)."""
    from api.access import new_key

    key, digest = new_key()
    print(f"key:  {key}\nhash: {digest}")
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    """Load the whole local stack (uWSGI API, always-on workers) with submits, polls and warms for a
    bounded time; report throughput, latency percentiles, errors, jobs lost and process memory.

    Exits 1 if any request got a 5xx or no answer, or any accepted job was lost.
    """
    from darkroom.soak import SoakConfig, report, run_soak

    config = SoakConfig(seconds=args.seconds, clients=args.clients, workers=args.workers, seed=args.seed)
    result = run_soak(config)
    text = report(result)
    print(text)
    if args.report is not None:
        args.report.write_text(text + "\n")
    errors = sum(sample.status == 0 or sample.status >= 500 for sample in result.samples)
    lost = sum(state == "lost" for state in result.jobs.values())
    return 1 if errors or lost else 0


def add_soak_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    soak = commands.add_parser("soak", help="load the local stack for a while and report (make soak)")
    soak.description = cmd_soak.__doc__
    soak.add_argument("--seconds", type=float, default=120.0, help="how long to load it (default: %(default)s)")
    soak.add_argument("--clients", type=int, default=16, help="concurrent clients (default: %(default)s)")
    soak.add_argument("--workers", type=int, default=2, help="always-on worker processes (default: %(default)s)")
    soak.add_argument("--seed", type=int, default=0, help="for the request mix (default: %(default)s)")
    soak.add_argument("--report", type=Path, default=None, help="also write the Markdown report to this file")
    soak.set_defaults(run=cmd_soak)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
