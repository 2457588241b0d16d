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

import json
from dataclasses import dataclass, replace
from itertools import pairwise
from math import exp, inf, log

LAMBDA = "lambda"
POOL = "pool"
HOUR = 3600.0


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


@dataclass(frozen=True)
class TierRecord:
    """What the rule needs to remember, shared by every API host (pool/autotier.py keeps it in S3).

    ``minutes``: jobs submitted in each minute of the last hour, ``(minute, count)``
    with minute the epoch second // 60; ``busy_at``: when traffic was last at or
    above a threshold (epoch seconds), from which the quiet period is counted.
    """

    minutes: tuple[tuple[int, int], ...] = ()
    busy_at: float | None = None

    def to_json(self) -> str:
        return json.dumps({"minutes": [list(m) for m in self.minutes], "busy_at": self.busy_at})

    @classmethod
    def from_json(cls, text: str | bytes) -> TierRecord:
        data = json.loads(text)
        return cls(tuple((int(m), int(n)) for m, n in data.get("minutes", [])), data.get("busy_at"))


def arrivals_per_hour(record: TierRecord, now: float) -> int:
    return sum(count for minute, count in record.minutes if minute * 60 > now - HOUR)


def traffic_of(record: TierRecord, backlog: int, now: float) -> Traffic:
    quiet = inf if record.busy_at is None else max(0.0, now - record.busy_at)
    return Traffic(arrivals_per_hour(record, now), backlog, quiet)


def observed(record: TierRecord, arrivals: int, backlog: int, now: float, thresholds: AutoThresholds) -> TierRecord:
    """The record after ``arrivals`` more jobs this minute and a look at the backlog: minutes older than an
    hour dropped, and ``busy_at`` moved to now when traffic is at or above a threshold."""
    counts = dict(record.minutes)
    if arrivals:
        counts[int(now // 60)] = counts.get(int(now // 60), 0) + arrivals
    recent = tuple(sorted((minute, n) for minute, n in counts.items() if minute * 60 > now - HOUR))
    seen = replace(record, minutes=recent)
    if busy(traffic_of(seen, backlog, now), thresholds):
        seen = replace(seen, busy_at=max(now, seen.busy_at or now))
    return seen


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
