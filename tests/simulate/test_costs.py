"""Cost arithmetic on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom.simulate.analysis import significant
from darkroom.simulate.arrivals import DAY, Trace
from darkroom.simulate.compare import instances_for, peak_load
from darkroom.simulate.config import Policy
from darkroom.simulate.costs import (
    always_on_metrics,
    instance_cost,
    pareto,
    per_day,
    per_thousand,
    pool_metrics,
    serverless_cost,
)
from darkroom.simulate.outcome import Outcome, WorkerLog
from darkroom.simulate.pool import PoolModel, simulate
from darkroom.simulate.tables import BootTime, ServiceTime, load_prices


def outcome_of(workers: list[WorkerLog], images: int, horizon: float = DAY) -> Outcome:
    times = np.zeros(images)
    return Outcome(times, times + 1.0, workers, interruptions=0, handed_back=0, horizon=horizon, end=horizon)


def test_an_instance_is_billed_per_second_with_a_minute_minimum() -> None:
    assert instance_cost(2 * 3600, 0.526) == pytest.approx(1.052)  # two hours of g4dn.xlarge on-demand
    assert instance_cost(90, 0.36) == pytest.approx(0.009)  # 90 s at $0.36/h
    assert instance_cost(10, 0.36) == pytest.approx(0.006)  # 10 s is billed as 60 s


def test_one_instance_busy_half_its_life() -> None:
    # launched at 0, ended at 30 min, busy 15 min, at $0.20/h, 10 images in a day
    worker = WorkerLog(launched=0.0, ended=1800.0, busy_seconds=900.0, jobs=10)
    metrics = pool_metrics("pool", outcome_of([worker], images=10), hourly=0.20)
    assert metrics.cost == pytest.approx(0.10)
    assert metrics.idle_cost == pytest.approx(0.05)
    assert metrics.utilisation == pytest.approx(0.5)
    assert metrics.cost_per_1000 == pytest.approx(10.0)  # $0.10 for 10 images
    assert metrics.cost_per_day == pytest.approx(0.10)


def test_short_launches_each_pay_the_minimum() -> None:
    workers = [WorkerLog(launched=0.0, ended=20.0, busy_seconds=5.0), WorkerLog(launched=100.0, ended=130.0)]
    metrics = pool_metrics("pool", outcome_of(workers, images=1), hourly=3.6)  # $0.001 a second
    assert metrics.cost == pytest.approx(0.12)  # two launches, 60 s each
    assert metrics.idle_cost == pytest.approx(0.115)  # 120 billed - 5 busy


def test_a_minimum_worker_costs_a_whole_day_of_idle_with_no_traffic() -> None:
    price = load_prices().instance("g4dn.xlarge").spot_hourly
    model = PoolModel(BootTime.fixed(60.0), {"raw": ServiceTime(1.0), "jpeg": ServiceTime(1.0)})
    outcome = simulate(Trace(np.zeros(0), (), DAY), model, Policy(max_workers=2, idle_seconds=300, min_workers=1))
    metrics = pool_metrics("min 1", outcome, price)
    assert len(outcome.workers) == 1
    # billed from launch to the first idle check at or after the end of the day (a 20 s poll)
    assert metrics.idle_cost_per_day == pytest.approx(24 * price, abs=20 * price / 3600)
    assert metrics.utilisation == 0.0


def test_always_on_pays_for_the_whole_horizon() -> None:
    worker = WorkerLog(launched=0.0, ended=DAY, busy_seconds=3600.0)
    metrics = always_on_metrics("on", outcome_of([worker], images=1000), instances=2, hourly=0.526)
    assert metrics.cost_per_day == pytest.approx(2 * 24 * 0.526)
    assert metrics.idle_cost == pytest.approx((2 * 24 - 1) * 0.526)
    assert metrics.cost_per_1000 == pytest.approx(2 * 24 * 0.526)


def test_serverless_is_gb_seconds_plus_requests() -> None:
    # 1,000 requests of 8 s at 4 GB: 32,000 GB-s at $0.0000166667, plus 1,000 x $0.0000002
    assert serverless_cost(1000, 8000.0, 4.0, 0.0000166667, 0.0000002) == pytest.approx(0.5333344 + 0.0002)


def test_spreading_totals() -> None:
    assert per_day(1.0, 3600.0) == pytest.approx(24.0)
    assert per_thousand(3.0, 1500) == pytest.approx(2.0)


def test_pareto_keeps_what_nothing_beats_on_both_axes() -> None:
    # (cost, p95): (1, 10), (2, 5), (4, 1) trade off; (3, 6) is beaten by (2, 5); a repeat of (1, 10) is not kept
    points = [(3.0, 6.0), (1.0, 10.0), (2.0, 5.0), (4.0, 1.0), (1.0, 10.0), (5.0, 1.0)]
    assert pareto(points) == [1, 2, 3]


def test_always_on_fleets_are_sized_for_the_busiest_hour() -> None:
    # 3,600 one-second jobs in the first hour of a day, none after: 1 busy worker at the peak, 1/24 on average
    trace = Trace(np.linspace(0.0, 3599.0, 3600), ("jpeg",) * 3600, DAY)
    service = {"raw": ServiceTime(1.0), "jpeg": ServiceTime(1.0)}
    assert peak_load(trace, service) == pytest.approx(1.0)
    assert instances_for(trace, service) == 2  # at most 70% busy


def test_latencies_compare_to_two_significant_figures() -> None:
    assert [significant(x) for x in (0.724, 113.7, 1.04, 6373.9)] == [0.72, 110.0, 1.0, 6400.0]
