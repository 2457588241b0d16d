"""``darkroom up`` and ``darkroom soak``: the whole system on this machine (darkroom.local)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from darkroom.cli.commands import Commands, add_command
from darkroom.local.config import PoolConfig, SoakConfig, StackConfig
from worker.settings import DEFAULTS, METHODS


def cmd_up(args: argparse.Namespace) -> int:
    """Bring up moto, the API under uWSGI and the spot pool's fleet emulator; stop all on Ctrl-C.

    The stack starts with no worker: the first upload (or the page's warm
    call) makes the API launch an instance in the emulator, which the fleet
    plays as a worker process; an idle worker stops and its instance ends.
    --workers N runs N always-on workers instead, with no pool.
    """
    from darkroom.local.stack import LocalStack

    config = stack_config(args)
    stack = LocalStack(config)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log would drown the stack's

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # explicitly: a shell may start us with SIGINT ignored
    try:
        stack.start()
        print(up_message(config, stack.aws.endpoint_url), flush=True)
        code = stack.wait()
        print(f"a darkroom process exited with code {code}; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping darkroom...", file=sys.stderr)
        return 0
    finally:
        stack.stop()


def stack_config(args: argparse.Namespace) -> StackConfig:
    pool = None
    if args.workers == 0 and args.tier != "lambda":
        pool = PoolConfig(
            max_workers=args.max_workers,
            boot_seconds=args.boot_seconds,
            idle_seconds=args.idle_seconds,
            chaos_seconds=args.chaos,
        )
    return StackConfig(
        host=args.host,
        api_port=args.port,
        moto_port=args.moto_port,
        workers=args.workers,
        pool=pool,
        tier=args.tier,
        method=args.method,
        from_template=True,
    )


def up_message(config: StackConfig, emulator_url: str | None) -> str:
    return (
        f"\ndarkroom is up at {config.api_url}\n"
        f"  curl -F image=@dark.jpg {config.api_url}/v1/jobs      # answers with the job's id\n"
        f"  curl {config.api_url}/v1/jobs/<id>                    # poll until status is done\n"
        f"  curl -L -o bright.jpg {config.api_url}/v1/jobs/<id>/result\n"
        f"{workers_line(config)}\n"
        f"AWS emulator: {emulator_url}   Ctrl-C stops everything.\n"
    )


def workers_line(config: StackConfig) -> str:
    """What the person who ran ``darkroom up`` should expect of the workers."""
    pool = config.pool
    if config.tier == "lambda":
        return "tier: lambda; the local event source mapping runs each job through the Lambda handler (no instance)"
    if config.tier == "auto":
        return (
            "tier: auto; the Lambda handler serves at quiet times, spot workers when traffic passes\n"
            f"  DARKROOM_AUTO_POOL_PER_HOUR or DARKROOM_AUTO_POOL_BACKLOG.  curl {config.api_url}/v1/pool  says which"
        )
    if pool is None:
        return f"workers: {config.workers} always on (no spot pool)"
    line = (
        f"workers: none yet; an upload or a warm call launches one (at most {pool.max_workers}),\n"
        f"  which stops after {pool.idle_seconds:.0f} s idle.  curl {config.api_url}/v1/pool  shows them"
    )
    if pool.chaos_seconds > 0:
        line += f"\nchaos: a random worker is interrupted or killed every {pool.chaos_seconds:.0f} s"
    return line


def cmd_soak(args: argparse.Namespace) -> int:
    """Load the whole local stack (uWSGI API, always-on workers) with submits, polls and warms for a
    bounded time; report throughput, latency percentiles, errors, jobs lost and process memory.

    Exits 1 if any request got a 5xx or no answer, or any accepted job was lost.
    """
    from darkroom.local.soak import report, run_soak

    config = SoakConfig(seconds=args.seconds, clients=args.clients, workers=args.workers, seed=args.seed)
    result = run_soak(config)
    text = report(result)
    print(text)
    if args.report is not None:
        args.report.write_text(text + "\n")
    errors = sum(sample.status == 0 or sample.status >= 500 for sample in result.samples)
    lost = sum(state == "lost" for state in result.jobs.values())
    return 1 if errors or lost else 0


def register(commands: Commands) -> None:
    stack, pool = StackConfig, PoolConfig
    up = add_command(commands, "up", cmd_up, help="run the whole system on this machine (what `make run` does)")
    up.add_argument("--host", default=stack.host, help="address the API listens on (default: %(default)s)")
    up.add_argument("--port", type=int, default=stack.api_port, help="API port (default: %(default)s)")
    up.add_argument("--moto-port", type=int, default=stack.moto_port, help="AWS emulator port (default: %(default)s)")
    up.add_argument(
        "--workers",
        type=int,
        default=stack.workers,
        help="always-on worker processes instead of the spot pool (default: %(default)s, the pool launches them)",
    )
    up.add_argument(
        "--max-workers", type=int, default=pool.max_workers, help="the pool's maximum (default: %(default)s)"
    )
    up.add_argument(
        "--boot-seconds",
        type=float,
        default=pool.boot_seconds,
        help="emulated instance boot time (default: %(default)s)",
    )
    up.add_argument(
        "--idle-seconds",
        type=float,
        default=pool.idle_seconds,
        help="an idle worker stops after this (default: %(default)s)",
    )
    up.add_argument(
        "--chaos",
        type=float,
        default=pool.chaos_seconds,
        metavar="SECONDS",
        help="interrupt or kill a random worker this often; 0: never (default: %(default)s)",
    )
    up.add_argument("--method", choices=METHODS, help=f"what the workers run on every input (default: {DEFAULTS})")
    up.add_argument(
        "--tier",
        choices=("pool", "lambda", "auto"),
        default=os.environ.get("DARKROOM_TIER") or stack.tier,  # `DARKROOM_TIER=lambda make run`
        help="who serves jobs: the spot pool, the Lambda handler fed by a local event source mapping,"
        " or auto: whichever traffic calls for (default: DARKROOM_TIER, else %(default)s)",
    )

    soak = add_command(commands, "soak", cmd_soak, help="load the local stack for a while and report (make soak)")
    soak.add_argument("--seconds", type=float, default=SoakConfig.seconds, help="how long (default: %(default)s)")
    soak.add_argument(
        "--clients", type=int, default=SoakConfig.clients, help="concurrent clients (default: %(default)s)"
    )
    soak.add_argument(
        "--workers", type=int, default=SoakConfig.workers, help="always-on worker processes (default: %(default)s)"
    )
    soak.add_argument("--seed", type=int, default=SoakConfig.seed, help="for the request mix (default: %(default)s)")
    soak.add_argument("--report", type=Path, default=None, help="also write the Markdown report to this file")
