"""Cost arithmetic and the metrics of a run: pure functions on numbers, worked by hand in the tests.

Cost models, as the report states them:
- an instance is billed per second from launch until it ends, with a 60 s
  minimum per launch (EC2 Linux on-demand and spot);
- idle cost is the billed time not spent on an image (booting, polling,
  waiting out the idle timeout, draining) at the same price;
- a serverless function is billed per GB-second of its duration (cold start
  included, as Lambda bills the INIT phase) plus a price per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkroom.simulate.outcome import Outcome

HOUR = 3600.0
DAY = 86_400.0


def instance_cost(seconds: float, hourly: float, min_billed_seconds: float = 60.0) -> float:
    """One instance launch: per-second billing with a minimum."""
    return max(seconds, min_billed_seconds) * hourly / HOUR


def serverless_cost(
    requests: int, billed_seconds: float, memory_gb: float, gb_second: float, per_request: float
) -> float:
    """A function: ``billed_seconds`` summed over all requests, at ``memory_gb``."""
    return billed_seconds * memory_gb * gb_second + requests * per_request


def per_thousand(cost: float, images: int) -> float:
    return cost / images * 1000.0 if images else float("nan")


def per_day(value: float, seconds: float) -> float:
    """A total over ``seconds`` of traffic, spread to one day."""
    return value * DAY / seconds


@dataclass(frozen=True)
class Metrics:
    """One row of the report: an option (a pool policy or an alternative) and what it costs and how fast."""

    name: str
    images: int
    p50: float
    p95: float
    p99: float
    cost: float  # over the whole horizon, USD
    idle_cost: float  # USD over the horizon
    horizon: float  # seconds of traffic the costs cover
    utilisation: float  # busy / billed instance time (1 for serverless)
    interruptions: int = 0
    handed_back: int = 0

    @property
    def cost_per_1000(self) -> float:
        return per_thousand(self.cost, self.images)

    @property
    def cost_per_day(self) -> float:
        return per_day(self.cost, self.horizon)

    @property
    def idle_cost_per_day(self) -> float:
        return per_day(self.idle_cost, self.horizon)


def percentiles(latencies: np.ndarray) -> tuple[float, float, float]:
    if len(latencies) == 0:
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def pool_metrics(name: str, outcome: Outcome, hourly: float, min_billed_seconds: float = 60.0) -> Metrics:
    """A pool run's metrics: every launch billed, busy time from the workers' logs."""
    cost = billed = busy = 0.0
    for worker in outcome.workers:
        alive = (outcome.end if worker.ended is None else worker.ended) - worker.launched
        cost += instance_cost(alive, hourly, min_billed_seconds)
        billed += max(alive, min_billed_seconds)
        busy += worker.busy_seconds
    idle_cost = (billed - busy) * hourly / HOUR
    return Metrics(
        name,
        len(outcome.submitted),
        *percentiles(outcome.latencies),
        cost=cost,
        idle_cost=idle_cost,
        horizon=outcome.horizon,
        utilisation=busy / billed if billed else 0.0,
        interruptions=outcome.interruptions,
        handed_back=outcome.handed_back,
    )


def always_on_metrics(name: str, outcome: Outcome, instances: int, hourly: float) -> Metrics:
    """Instances running the whole horizon, whatever the traffic: billed for all of it."""
    cost = instances * outcome.horizon * hourly / HOUR
    busy = sum(worker.busy_seconds for worker in outcome.workers)
    idle_cost = max(instances * outcome.horizon - busy, 0.0) * hourly / HOUR
    return Metrics(
        name,
        len(outcome.submitted),
        *percentiles(outcome.latencies),
        cost=cost,
        idle_cost=idle_cost,
        horizon=outcome.horizon,
        utilisation=busy / (instances * outcome.horizon),
    )


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (lower is better on both axes), cheapest first.

    Of several equal points only the first counts (the grid lists smaller pools first)."""

    def beaten(i: int) -> bool:
        x, y = points[i]
        for j, (ox, oy) in enumerate(points):
            better = ox <= x and oy <= y and (ox < x or oy < y)
            if j != i and (better or ((ox, oy) == (x, y) and j < i)):
                return True
        return bool(np.isnan(x) or np.isnan(y))

    return sorted((i for i in range(len(points)) if not beaten(i)), key=lambda i: points[i])
