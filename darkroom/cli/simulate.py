"""``darkroom simulate``: the arguments, defaults from ``SimulateConfig``, and a thin call into ``run_simulation``."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from darkroom.cli.commands import Commands, add_command
from darkroom.simulate.config import Policy, SimulateConfig
from pool.settings import EventSourceSettings

DESCRIPTION = """What a photo costs: a discrete-event simulation (SimPy) of the spot GPU pool, with the
same scaling rule as the API, for a day (or any trace) of uploads.

For the policy given (--max-workers, --idle-seconds, --min-workers, --prewarm-lead) and
for every idle timeout x pool size in the sweep, it reports submit-to-done latency
p50/p95/p99, cost per 1,000 images, cost and idle cost per day, worker utilisation and
spot interruptions survived; it marks the best (Pareto) policies, tries pre-warm and one
always-kept worker on them, and recommends the cheapest policy whose p95 meets
--p95-target. The same trace is priced on an always-on GPU instance, an always-on CPU
instance and a serverless CPU function (the cost models are printed).

Service times, boot times, interruption rate and Lambda settings come from
darkroom/simulate/defaults.json (each entry says MEASURED or ESTIMATE); the learned
method's GPU times from a GPU benchmark report (--gpu-report) where there is one,
else from the published FLOP figures of the instance type's GPU; prices from
darkroom/simulate/prices.json (public list prices with their date: check them).

--against-emulator instead runs a short trace through the local stack's fleet emulator
and through the simulator with the same settings, and prints both latencies."""

EXAMPLES = """examples:
  darkroom simulate --per-day 1000                       # a day with a daily cycle
  darkroom simulate --per-day 10 1000 100000 --plot docs/cost.png
  darkroom simulate --pattern csv --csv requests.csv     # your own request times
  darkroom simulate --against-emulator                   # check the model (~2 min of CPU)
"""


def floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.against_emulator:
        from darkroom.simulate.emulator import EmulatorCheck, check_against_emulator, render_check

        print(render_check(check_against_emulator(EmulatorCheck(jobs=args.emulator_jobs, seed=args.seed))))
        return 0
    from dataclasses import fields

    from darkroom.simulate.analysis import run_simulation
    from darkroom.simulate.plot import save
    from darkroom.simulate.report import render

    policy = Policy(args.max_workers, args.idle_seconds, args.min_workers, args.prewarm_lead, args.jobs_per_worker)
    names = {f.name for f in fields(SimulateConfig)} - {"policy", "per_day"}
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    started, reports = time.perf_counter(), []
    for per_day in args.per_day:
        report = run_simulation(SimulateConfig(per_day=per_day, policy=policy, **given))
        print(render(report, everything=args.all), end="\n\n", flush=True)
        reports.append(report)
    if len(reports) > 1:
        from darkroom.simulate.tiers import render_auto

        concurrency = EventSourceSettings.from_env(os.environ).max_concurrency  # DARKROOM_LAMBDA_CONCURRENCY
        print(render_auto(reports, concurrency), end="\n\n")
    if args.plot:
        print(f"plot: {save(reports, args.plot)}")
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    return 0


def listed(values: tuple[float, ...]) -> str:
    return ",".join(f"{value:g}" for value in values)


def register(commands: Commands) -> None:
    parser = add_command(
        commands,
        "simulate",
        cmd_simulate,
        help="what a photo costs: simulate the spot pool and its alternatives for your traffic",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.description = DESCRIPTION
    add_traffic(parser.add_argument_group("traffic"))
    add_work(parser.add_argument_group("instances and work"))
    add_policy(parser.add_argument_group("the policy given (also swept)"))
    add_sweep(parser.add_argument_group("sweep and recommendation"))
    add_output(parser.add_argument_group("output and run"))


def add_traffic(group: argparse._ArgumentGroup) -> None:
    config = SimulateConfig
    group.add_argument(
        "--per-day",
        type=float,
        nargs="+",
        default=[config.per_day],
        metavar="N",
        help=f"images a day; several values give one report (and one plot panel) each (default: {config.per_day:g})",
    )
    group.add_argument(
        "--pattern",
        choices=["poisson", "daily", "bursts", "csv"],
        default=config.pattern,
        help="arrivals: steady Poisson, a daily cycle peaking at 20:00, bursts (sessions of "
        "several photos), or a CSV of request times (default: %(default)s)",
    )
    group.add_argument(
        "--csv",
        type=Path,
        help="CSV of request times: first column seconds or ISO 8601, optional "
        "header; a second column named 'kind' (raw/jpeg) gives each request's input",
    )
    group.add_argument(
        "--hours", type=float, default=config.hours, help="length of a generated trace (default: %(default)s)"
    )
    group.add_argument(
        "--raw-fraction",
        type=float,
        default=config.raw_fraction,
        help="share of uploads that are RAW, the rest JPEG (default: %(default)s)",
    )
    group.add_argument(
        "--peak-to-mean",
        type=float,
        default=config.peak_to_mean,
        help="daily cycle: busiest hour's rate over the mean, 1-2 (default: %(default)s)",
    )
    group.add_argument(
        "--photos-per-burst",
        type=float,
        default=config.photos_per_burst,
        help="bursts: photos per session (default: %(default)s)",
    )
    group.add_argument(
        "--burst-gap-seconds",
        type=float,
        default=config.burst_gap_seconds,
        help="bursts: mean seconds between a session's photos (default: %(default)s)",
    )


def add_work(group: argparse._ArgumentGroup) -> None:
    config = SimulateConfig
    group.add_argument(
        "--instance-type",
        default=config.instance_type,
        help="the pool's instance type, from the prices file (default: %(default)s)",
    )
    group.add_argument(
        "--on-demand", dest="spot", action="store_false", default=config.spot, help="price the pool on-demand, not spot"
    )
    group.add_argument(
        "--cpu-instance-type",
        default=config.cpu_instance_type,
        help="the always-on CPU comparison (default: %(default)s)",
    )
    group.add_argument(
        "--method",
        choices=["sid", "baseline"],
        default=config.method,
        help="enhancement method, for the service-time defaults (default: %(default)s)",
    )
    group.add_argument("--raw-seconds", type=float, help="pool service time per RAW image (default: defaults table)")
    group.add_argument("--jpeg-seconds", type=float, help="pool service time per JPEG image (default: defaults table)")
    group.add_argument(
        "--boot-seconds",
        type=floats,
        metavar="LOW,MODE,HIGH",
        help="launch-to-ready time, triangular distribution (default: defaults table, 45,75,150 for GPU)",
    )
    group.add_argument(
        "--interruptions-per-hour",
        type=float,
        help="spot interruptions per instance-hour; an "
        "interrupted job goes back to the queue (default: defaults table, 0.01)",
    )
    group.add_argument(
        "--gpu-report",
        type=Path,
        help="a GPU benchmark report (python -m training.gpu_bench --out FILE): GPU service and boot times "
        "become MEASURED on its GPU, scaled by published FLOP/s to others (default: darkroom/simulate/"
        "gpu-report.json if present, else ESTIMATES from published FLOP figures)",
    )
    group.add_argument("--defaults", dest="defaults_path", type=Path, help="another defaults table (JSON)")
    group.add_argument("--prices", dest="prices_path", type=Path, help="another prices file (JSON)")


def add_policy(group: argparse._ArgumentGroup) -> None:
    policy = Policy
    group.add_argument(
        "--max-workers", type=int, default=policy.max_workers, help="the pool's hard maximum (default: %(default)s)"
    )
    group.add_argument(
        "--idle-seconds",
        type=float,
        default=policy.idle_seconds,
        help="a worker idle this long stops; 0 never (default: %(default)s)",
    )
    group.add_argument(
        "--min-workers", type=int, default=policy.min_workers, help="workers always kept (default: %(default)s)"
    )
    group.add_argument(
        "--prewarm-lead",
        type=float,
        default=policy.prewarm_lead_seconds,
        metavar="SECONDS",
        help="the page calls warm this long before each upload; 0 none (default: %(default)s)",
    )
    group.add_argument(
        "--jobs-per-worker",
        type=int,
        default=policy.jobs_per_worker,
        help="queued jobs a worker absorbs before another launches (default: %(default)s)",
    )


def add_sweep(group: argparse._ArgumentGroup) -> None:
    config = SimulateConfig
    group.add_argument(
        "--idle-grid",
        type=floats,
        default=config.idle_grid,
        metavar="S,S,...",
        help=f"idle timeouts swept (default: {listed(config.idle_grid)})",
    )
    group.add_argument(
        "--pool-grid",
        type=ints,
        default=config.pool_grid,
        metavar="N,N,...",
        help=f"pool sizes swept (default: {listed(config.pool_grid)})",
    )
    group.add_argument(
        "--try-prewarm-lead",
        dest="prewarm_lead_seconds",
        type=float,
        default=config.prewarm_lead_seconds,
        metavar="SECONDS",
        help="lead time of the pre-warm variant tried on the best policies (default: %(default)s)",
    )
    group.add_argument(
        "--p95-target",
        type=float,
        default=config.p95_target,
        help="seconds: recommend the cheapest policy at or under it (default: %(default)s)",
    )


def add_output(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--plot", type=Path, help="write a PNG of cost per 1,000 images against p95, best policies marked"
    )
    group.add_argument("--all", action="store_true", help="list every swept policy, not only the best")
    group.add_argument("--seed", type=int, default=SimulateConfig.seed, help="random seed (default: %(default)s)")
    group.add_argument(
        "--processes", type=int, default=SimulateConfig.processes, help="parallel simulations (default: %(default)s)"
    )
    group.add_argument(
        "--against-emulator",
        action="store_true",
        help="run a short trace through the local stack's fleet emulator and the simulator; print both",
    )
    group.add_argument("--emulator-jobs", type=int, default=24, help="jobs in that trace (default: %(default)s)")
