"""``DARKROOM_TIER=auto`` from the simulator: which tier wins at each simulated volume, and where to switch.

The function tier is the simulator's serverless CPU alternative (cold starts
billed, CPU time priced by memory); the pool tier is the recommended spot
policy. Auto serves a volume from the function when it meets the p95 target
for no more a day than the pool. The three DARKROOM_AUTO_* settings it
recommends: the switch to the pool where the two daily costs cross
(pool.tiers.crossover_per_day), as arrivals an hour; the backlog the
function's concurrency clears within the p95 target; and as the quiet
period, the idle timeout of the pool policy recommended where the pool wins
(a lull its workers would ride out is not quiet enough to hand back).
"""

from __future__ import annotations

from math import floor

from darkroom.simulate.analysis import Report
from darkroom.simulate.costs import Metrics
from pool.tiers import LAMBDA, POOL, crossover_per_day


def function_metrics(report: Report) -> Metrics:
    return next(m for m in report.alternatives if m.name.startswith("serverless"))


def auto_pick(report: Report) -> str:
    function, pool = function_metrics(report), report.recommended.metrics
    meets = function.p95 <= report.config.p95_target
    return LAMBDA if meets and function.cost_per_day <= pool.cost_per_day else POOL


def recommended_pool_per_hour(reports: list[Report]) -> float | None:
    """DARKROOM_AUTO_POOL_PER_HOUR: the crossover volume as a mean hourly rate; None if there is none."""
    per_day = crossover_per_day(
        [r.config.per_day for r in reports],
        [r.recommended.metrics.cost_per_day for r in reports],
        [function_metrics(r).cost_per_day for r in reports],
    )
    return None if per_day is None else per_day / 24


def recommended_backlog(reports: list[Report], concurrency: int) -> int:
    """DARKROOM_AUTO_POOL_BACKLOG: jobs that ``concurrency`` invocations clear within the p95 target at the
    function's slowest median time per job here; a job behind more would wait past the target."""
    seconds = max(function_metrics(report).p50 for report in reports)
    return max(1, floor(concurrency * reports[0].config.p95_target / seconds))


def recommended_quiet_seconds(reports: list[Report]) -> float | None:
    """DARKROOM_AUTO_QUIET_SECONDS: the idle timeout of the pool policy recommended at the lowest volume where
    the pool wins; None where it never wins or its workers never stop."""
    busy = [report for report in sorted(reports, key=lambda r: r.config.per_day) if auto_pick(report) == POOL]
    idle = busy[0].recommended.policy.idle_seconds if busy else 0.0
    return idle if idle > 0 else None


def render_auto(reports: list[Report], concurrency: int) -> str:
    """``concurrency``: the mapping's invocations at once (DARKROOM_LAMBDA_CONCURRENCY)."""
    lines = ["DARKROOM_TIER=auto on these volumes:"]
    for report in reports:
        function, pool = function_metrics(report), report.recommended.metrics
        lines.append(
            f"  {report.config.per_day:>9,.0f} a day: {auto_pick(report):6}"
            f"  (function ${function.cost_per_day:,.2f}/day, p95 {function.p95:.1f} s;"
            f" pool ${pool.cost_per_day:,.2f}/day, p95 {pool.p95:.1f} s)"
        )
    rate = recommended_pool_per_hour(reports)
    if rate is None:
        lines.append("  no crossover between these volumes: give a wider --per-day range for a threshold")
    else:
        lines.append(
            f"  the tiers' daily costs cross at {rate * 24:,.0f} a day:"
            f" recommended DARKROOM_AUTO_POOL_PER_HOUR={rate:.0f}"
        )
    backlog = recommended_backlog(reports, concurrency)
    lines.append(
        f"  {concurrency} invocations at once clear {backlog} jobs within the p95 target:"
        f" recommended DARKROOM_AUTO_POOL_BACKLOG={backlog}"
    )
    quiet = recommended_quiet_seconds(reports)
    if quiet is not None:
        lines.append(
            "  the least quiet period, the pool's recommended idle timeout (longer damps flapping around the"
            f" threshold): recommended DARKROOM_AUTO_QUIET_SECONDS={quiet:.0f}"
        )
    return "\n".join(lines)
