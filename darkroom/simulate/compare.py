"""The alternatives to the spot pool, priced on the same trace: always-on instances and a serverless function.

- Always-on GPU / CPU: on-demand instances that never stop, as many as keep
  them at most ``TARGET_UTILISATION`` busy in the busiest hour (at least one); the
  latency comes from the same simulation with no boot and no idle stop.
- Serverless CPU: one function invocation per image at the measured CPU
  service time, ``memory_mb`` of memory; a request finding no sandbox used
  within ``keep_warm_seconds`` pays a cold start (billed: Lambda bills INIT).
  Concurrency is unlimited, so there is no queueing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darkroom.simulate.arrivals import Trace
from darkroom.simulate.config import Policy
from darkroom.simulate.costs import Metrics, always_on_metrics, percentiles, serverless_cost
from darkroom.simulate.pool import PoolModel, simulate
from darkroom.simulate.service import presampled
from darkroom.simulate.tables import BootTime, InstancePrice, LambdaPrice, ServiceTime

TARGET_UTILISATION = 0.7  # an always-on fleet is sized so its instances are at most this busy


@dataclass(frozen=True)
class Serverless:
    memory_mb: float = 4096.0
    cold_start_seconds: float = 6.0
    keep_warm_seconds: float = 600.0


def peak_load(trace: Trace, service: dict[str, ServiceTime], window: float = 3600.0) -> float:
    """Busy workers the busiest hour needs (a daily cycle's peak is up to twice the mean)."""
    means = np.array([service[kind].mean for kind in trace.kinds])
    hours = (trace.times // window).astype(int)
    work = np.bincount(hours, weights=means) if len(means) else np.zeros(1)
    return float(work.max()) / min(window, trace.duration)


def instances_for(trace: Trace, service: dict[str, ServiceTime]) -> int:
    return max(1, math.ceil(peak_load(trace, service) / TARGET_UTILISATION))


def always_on(trace: Trace, service: dict[str, ServiceTime], price: InstancePrice, seed: int = 0) -> Metrics:
    count = instances_for(trace, service)
    model = PoolModel(BootTime.fixed(0.0), service)
    outcome = simulate(trace, model, Policy(max_workers=count, idle_seconds=0, min_workers=count), seed)
    return always_on_metrics(
        f"always-on {price.device.upper()}: {count} x {price.name} on-demand", outcome, count, price.on_demand_hourly
    )


def cold_starts(times: np.ndarray, keep_warm_seconds: float) -> np.ndarray:
    """Which requests find no warm sandbox: the first, and any after a gap longer than the keep-warm time.

    A lower bound on cold starts: requests that overlap need a second sandbox,
    which this ignores (at the measured seconds per image overlaps are rare below
    thousands of images a day)."""
    gaps = np.diff(times, prepend=-np.inf)
    return gaps > keep_warm_seconds


def serverless(
    trace: Trace, service: dict[str, ServiceTime], config: Serverless, price: LambdaPrice, seed: int = 0
) -> Metrics:
    seconds = presampled(trace, service, np.random.default_rng(seed))
    cold = cold_starts(trace.times, config.keep_warm_seconds)
    durations = seconds + cold * config.cold_start_seconds
    cost = serverless_cost(
        len(trace), float(durations.sum()), config.memory_mb / 1024, price.gb_second, price.per_request
    )
    return Metrics(
        f"serverless CPU: Lambda {config.memory_mb:g} MB",
        len(trace),
        *percentiles(durations),
        cost=cost,
        idle_cost=0.0,
        horizon=trace.duration,
        utilisation=1.0,
    )
