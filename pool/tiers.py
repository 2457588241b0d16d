"""``DARKROOM_TIER=auto``: which tier serves now, the Lambda function or the spot pool. Pure: no I/O.

Quiet traffic goes to the function (no instance to boot, billed per image);
busy traffic to spot workers (cheaper per image once they are kept busy, and
about a second per image once warm). The switch to the pool happens as soon
as arrivals or the backlog pass their thresholds; the switch back waits for a
quiet period, so a lull between two bursts does not bounce the jobs between
tiers. The thresholds come from ``darkroom simulate``, which prices both
tiers on the same traffic (docs/cost.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from math import exp, log

LAMBDA = "lambda"
POOL = "pool"


@dataclass(frozen=True)
class AutoThresholds:
    pool_per_hour: float  # arrivals an hour at or above which the spot pool serves
    pool_backlog: int  # jobs waiting or running at or above which the spot pool serves (the function is saturated)
    quiet_seconds: float  # below both this long, the function serves again


@dataclass(frozen=True)
class Traffic:
    arrivals_per_hour: float  # jobs submitted in the last hour
    backlog: int  # visible + in-flight messages
    quiet_seconds: float  # since arrivals or backlog were last at or above a threshold


def busy(traffic: Traffic, thresholds: AutoThresholds) -> bool:
    return traffic.arrivals_per_hour >= thresholds.pool_per_hour or traffic.backlog >= thresholds.pool_backlog


def tier_for(current: str, traffic: Traffic, thresholds: AutoThresholds) -> str:
    """The tier that should serve now, given the one serving."""
    if busy(traffic, thresholds):
        return POOL
    if current == POOL and traffic.quiet_seconds < thresholds.quiet_seconds:
        return POOL
    return LAMBDA


def crossover_per_day(volumes: list[float], pool_per_day: list[float], function_per_day: list[float]) -> float | None:
    """Images a day above which the pool costs less than the function, interpolated between simulated volumes.

    Costs are interpolated linearly in log-log between adjacent volumes (the
    function's cost is proportional to volume, the pool's nearly flat until it
    needs a second worker). None when one tier is cheaper at every volume given."""
    points = sorted(zip(volumes, pool_per_day, function_per_day, strict=True))
    for (n0, p0, f0), (n1, p1, f1) in pairwise(points):
        if p0 >= f0 and p1 < f1:
            gap0, gap1 = _log(p0) - _log(f0), _log(p1) - _log(f1)  # >= 0, then < 0
            t = gap0 / (gap0 - gap1)
            return exp(log(n0) + t * (log(n1) - log(n0)))
    return None


def _log(dollars: float) -> float:
    return log(max(dollars, 1e-9))
