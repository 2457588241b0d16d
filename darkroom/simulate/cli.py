"""``darkroom simulate``: the arguments, and a thin call into ``analysis.run_simulation``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

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
darkroom/simulate/defaults.json (each entry says MEASURED or ESTIMATE); prices from
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

    from darkroom.simulate.analysis import SimulateConfig, run_simulation
    from darkroom.simulate.plot import save
    from darkroom.simulate.pool import Policy
    from darkroom.simulate.report import render

    policy = Policy(args.max_workers, args.idle_seconds, args.min_workers, args.prewarm_lead, args.jobs_per_worker)
    names = {f.name for f in fields(SimulateConfig)} - {"policy", "per_day"}
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    started, reports = time.perf_counter(), []
    for per_day in args.per_day:
        report = run_simulation(SimulateConfig(per_day=per_day, policy=policy, **given))
        print(render(report, everything=args.all), end="\n\n", flush=True)
        reports.append(report)
    if args.plot:
        print(f"plot: {save(reports, args.plot)}")
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    return 0


def add_simulate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "simulate",
        help="what a photo costs: simulate the spot pool and its alternatives for your traffic",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    traffic = p.add_argument_group("traffic")
    traffic.add_argument(
        "--per-day",
        type=float,
        nargs="+",
        default=[1000.0],
        metavar="N",
        help="images a day; several values give one report (and one plot panel) each (default: 1000)",
    )
    traffic.add_argument(
        "--pattern",
        choices=["poisson", "daily", "bursts", "csv"],
        default="daily",
        help="arrivals: steady Poisson, a daily cycle peaking at 20:00, bursts (sessions of "
        "several photos), or a CSV of request times (default: %(default)s)",
    )
    traffic.add_argument(
        "--csv",
        type=Path,
        help="CSV of request times: first column seconds or ISO 8601, optional "
        "header; a second column named 'kind' (raw/jpeg) gives each request's input",
    )
    traffic.add_argument("--hours", type=float, help="length of a generated trace (default: 24)")
    traffic.add_argument(
        "--raw-fraction", type=float, help="share of uploads that are RAW, the rest JPEG (default: 0.5)"
    )
    traffic.add_argument(
        "--peak-to-mean", type=float, help="daily cycle: busiest hour's rate over the mean, 1-2 (default: 2)"
    )
    traffic.add_argument("--photos-per-burst", type=float, help="bursts: photos per session (default: 5)")
    traffic.add_argument(
        "--burst-gap-seconds", type=float, help="bursts: mean seconds between a session's photos (default: 10)"
    )
    work = p.add_argument_group("instances and work")
    work.add_argument("--instance-type", help="the pool's instance type, from the prices file (default: g4dn.xlarge)")
    work.add_argument(
        "--on-demand", dest="spot", action="store_false", default=None, help="price the pool on-demand instead of spot"
    )
    work.add_argument("--cpu-instance-type", help="the always-on CPU comparison (default: c7i.large)")
    work.add_argument(
        "--method", choices=["sid", "baseline"], help="enhancement method, for the service-time defaults (default: sid)"
    )
    work.add_argument("--raw-seconds", type=float, help="pool service time per RAW image (default: defaults table)")
    work.add_argument("--jpeg-seconds", type=float, help="pool service time per JPEG image (default: defaults table)")
    work.add_argument(
        "--boot-seconds",
        type=floats,
        metavar="LOW,MODE,HIGH",
        help="launch-to-ready time, triangular distribution (default: defaults table, 45,75,150 for GPU)",
    )
    work.add_argument(
        "--interruptions-per-hour",
        type=float,
        help="spot interruptions per instance-hour; an "
        "interrupted job goes back to the queue (default: defaults table, 0.01)",
    )
    work.add_argument("--defaults", dest="defaults_path", type=Path, help="another defaults table (JSON)")
    work.add_argument("--prices", dest="prices_path", type=Path, help="another prices file (JSON)")
    policy = p.add_argument_group("the policy given (also swept)")
    policy.add_argument("--max-workers", type=int, default=3, help="the pool's hard maximum (default: %(default)s)")
    policy.add_argument(
        "--idle-seconds",
        type=float,
        default=300.0,
        help="a worker idle this long stops; 0 never (default: %(default)s)",
    )
    policy.add_argument("--min-workers", type=int, default=0, help="workers always kept (default: %(default)s)")
    policy.add_argument(
        "--prewarm-lead",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the page calls warm this long before each upload; 0 none (default: %(default)s)",
    )
    policy.add_argument(
        "--jobs-per-worker",
        type=int,
        default=4,
        help="queued jobs a worker absorbs before another launches (default: %(default)s)",
    )
    sweep = p.add_argument_group("sweep and recommendation")
    sweep.add_argument(
        "--idle-grid", type=floats, metavar="S,S,...", help="idle timeouts swept (default: 60,120,300,600,1800)"
    )
    sweep.add_argument("--pool-grid", type=ints, metavar="N,N,...", help="pool sizes swept (default: 1,2,4,8)")
    sweep.add_argument(
        "--try-prewarm-lead",
        dest="prewarm_lead_seconds",
        type=float,
        metavar="SECONDS",
        help="lead time of the pre-warm variant tried on the best policies (default: 30)",
    )
    sweep.add_argument(
        "--p95-target", type=float, help="seconds: recommend the cheapest policy at or under it (default: 60)"
    )
    out = p.add_argument_group("output and run")
    out.add_argument("--plot", type=Path, help="write a PNG of cost per 1,000 images against p95, best policies marked")
    out.add_argument("--all", action="store_true", help="list every swept policy, not only the best")
    out.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    out.add_argument("--processes", type=int, help="parallel simulations (default: 2)")
    out.add_argument(
        "--against-emulator",
        action="store_true",
        help="run a short trace through the local stack's fleet emulator and the simulator; print both",
    )
    out.add_argument("--emulator-jobs", type=int, default=24, help="jobs in that trace (default: %(default)s)")
    p.set_defaults(run=cmd_simulate)
