"""``DARKROOM_TIER=auto`` from the simulator: which tier wins at each simulated volume, and where to switch.

The function tier is the simulator's serverless CPU alternative (cold starts
billed, CPU time priced by memory); the pool tier is the recommended spot
policy. Auto serves a volume from the function when it meets the p95 target
for no more a day than the pool; the switch to the pool goes where the two
daily costs cross (pool.tiers.crossover_per_day), as arrivals an hour.
"""

from __future__ import annotations

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


def render_auto(reports: list[Report]) -> str:
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
            f"  recommended DARKROOM_AUTO_POOL_PER_HOUR={rate:,.0f}"
            f" (the tiers' daily costs cross at {rate * 24:,.0f} a day)"
        )
    return "\n".join(lines)
