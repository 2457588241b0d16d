"""DARKROOM_TIER=auto: the function for quiet traffic, spot workers past a threshold, back after a quiet spell."""

from __future__ import annotations

import pytest

from pool.tiers import LAMBDA, POOL, AutoThresholds, Traffic, crossover_per_day, tier_for

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
