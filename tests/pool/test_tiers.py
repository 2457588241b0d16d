"""DARKROOM_TIER=auto: the function for quiet traffic, spot workers past a threshold, back after a quiet spell."""

from __future__ import annotations

from math import inf

import pytest

from pool.tiers import (
    LAMBDA,
    POOL,
    AutoThresholds,
    TierRecord,
    Traffic,
    arrivals_per_hour,
    crossover_per_day,
    observed,
    tier_for,
    traffic_of,
)

THRESHOLDS = AutoThresholds(pool_per_hour=500.0, pool_backlog=20, quiet_seconds=1800.0)


def test_low_arrival_rates_stay_on_the_function() -> None:
    assert tier_for(LAMBDA, Traffic(arrivals_per_hour=40, backlog=2, quiet_seconds=0), THRESHOLDS) == LAMBDA


@pytest.mark.parametrize("traffic", [Traffic(500, 0, 0), Traffic(10, 20, 0)], ids=["arrivals", "backlog"])
def test_past_either_threshold_the_pool_serves(traffic: Traffic) -> None:
    assert tier_for(LAMBDA, traffic, THRESHOLDS) == POOL


def test_the_pool_keeps_serving_through_a_lull_and_hands_back_after_the_quiet_period() -> None:
    lull = Traffic(arrivals_per_hour=40, backlog=0, quiet_seconds=1799)
    assert tier_for(POOL, lull, THRESHOLDS) == POOL
    assert tier_for(POOL, Traffic(40, 0, 1800), THRESHOLDS) == LAMBDA


def test_the_crossover_is_where_the_daily_costs_meet_between_simulated_volumes() -> None:
    # the function costs $0.35 per 1,000 images; the pool a flat $6.24 a day (docs/cost.md's numbers)
    volumes = [10.0, 1_000.0, 100_000.0]
    function = [v * 0.35 / 1000 for v in volumes]
    crossing = crossover_per_day(volumes, [6.24, 6.24, 6.24], function)
    assert crossing == pytest.approx(6.24 / 0.35 * 1000, rel=1e-6)  # exact where both are straight in log-log
    assert crossover_per_day(volumes, [100.0] * 3, function) is None  # the function is cheaper throughout


NOON = 1_796_472_000.0  # 2026-12-05 12:00 UTC, epoch seconds


def test_arrivals_are_counted_by_minute_and_only_the_last_hour_counts() -> None:
    record = observed(TierRecord(), 3, 0, NOON - 3500, THRESHOLDS)  # in the minute from 59 min ago
    record = observed(record, 4, 0, NOON - 60, THRESHOLDS)
    record = observed(record, 2, 0, NOON - 50, THRESHOLDS)  # the same minute: one entry
    assert arrivals_per_hour(record, NOON) == 9 and len(record.minutes) == 2
    later = observed(record, 0, 0, NOON + 60, THRESHOLDS)  # the first minute is now over an hour old: dropped
    assert later.minutes == ((int((NOON - 60) // 60), 6),) and arrivals_per_hour(later, NOON + 60) == 6


def test_busy_traffic_moves_busy_at_and_quiet_is_counted_from_it() -> None:
    never = TierRecord()
    assert traffic_of(never, 0, NOON).quiet_seconds == inf  # never busy: as quiet as can be
    assert observed(never, 5, 19, NOON, THRESHOLDS).busy_at is None  # below both thresholds
    busy = observed(never, 0, 20, NOON, THRESHOLDS)  # the backlog at its threshold
    assert busy.busy_at == NOON
    assert traffic_of(busy, 0, NOON + 30) == Traffic(arrivals_per_hour=0, backlog=0, quiet_seconds=30)
    assert observed(busy, 500, 0, NOON + 40, THRESHOLDS).busy_at == NOON + 40  # 500 arrivals in the hour


def test_busy_at_never_moves_back_for_a_host_whose_clock_is_behind() -> None:
    record = TierRecord(busy_at=NOON)
    assert observed(record, 0, 20, NOON - 5, THRESHOLDS).busy_at == NOON


def test_the_record_reads_back_what_it_wrote() -> None:
    record = observed(observed(TierRecord(), 3, 20, NOON, THRESHOLDS), 1, 0, NOON + 61, THRESHOLDS)
    assert TierRecord.from_json(record.to_json()) == record
