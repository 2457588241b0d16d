"""``darkroom simulate`` models the Lambda tier for DARKROOM_TIER=auto: which tier wins, and where to switch."""

from __future__ import annotations

from darkroom.simulate.analysis import run_simulation
from darkroom.simulate.config import SimulateConfig
from darkroom.simulate.tiers import (
    auto_pick,
    recommended_backlog,
    recommended_pool_per_hour,
    recommended_quiet_seconds,
    render_auto,
)
from pool.tiers import LAMBDA, POOL


def test_auto_picks_the_function_when_quiet_and_the_pool_when_busy_and_recommends_a_threshold() -> None:
    small = {"hours": 6.0, "idle_grid": (60.0, 300.0), "pool_grid": (1, 2), "processes": 1}
    reports = [run_simulation(SimulateConfig(per_day=per_day, **small)) for per_day in (100.0, 100_000.0)]  # type: ignore[arg-type]
    assert [auto_pick(report) for report in reports] == [LAMBDA, POOL]
    rate = recommended_pool_per_hour(reports)
    assert rate is not None and 100 / 24 < rate < 100_000 / 24
    backlog, quiet = recommended_backlog(reports, 2), recommended_quiet_seconds(reports)
    assert backlog >= 1 and quiet == reports[1].recommended.policy.idle_seconds
    rendered = render_auto(reports, 2)  # each recommendation as the variable the API reads, ready to set
    for variable in (f"DARKROOM_AUTO_POOL_PER_HOUR={rate:.0f}", f"DARKROOM_AUTO_POOL_BACKLOG={backlog}"):
        assert f"recommended {variable}\n" in rendered
    assert rendered.endswith(f"recommended DARKROOM_AUTO_QUIET_SECONDS={quiet:.0f}")
