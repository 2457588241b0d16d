"""The keep-warm floor: DARKROOM_MIN_WORKERS and weekly windows, parsed and applied (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.keepwarm import KeepWarm, may_stop
from jobs.pool import WorkerRecord, WorkerState
from jobs.settings import SettingsError
from pool.settings import PoolSettings
from worker.settings import WorkerSettings

# Monday 1 December 2025 ... Sunday 7 December 2025
MONDAY_0859, MONDAY_0900 = datetime(2025, 12, 1, 8, 59, tzinfo=UTC), datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
FRIDAY_1759, FRIDAY_1800 = datetime(2025, 12, 5, 17, 59, tzinfo=UTC), datetime(2025, 12, 5, 18, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)


def keep(**env: str) -> KeepWarm:
    return KeepWarm.from_env({f"DARKROOM_{name.upper()}": value for name, value in env.items()})


def test_weekday_office_hours_keep_one_worker_and_nights_and_weekends_none() -> None:
    office = keep(keep_warm="Mon-Fri 09:00-18:00=1")
    floors = [office.floor_at(t) for t in (MONDAY_0859, MONDAY_0900, FRIDAY_1759, FRIDAY_1800, SATURDAY_NOON)]
    assert floors == [0, 1, 1, 0, 0]


def test_the_minimum_holds_at_all_hours_and_the_largest_window_wins() -> None:
    both = keep(min_workers="1", keep_warm="Mon-Fri 09:00-18:00=2, Sat 10:00-14:00=3, daily 11:00-13:00=1")
    assert [both.floor_at(t) for t in (MONDAY_0859, MONDAY_0900, SATURDAY_NOON)] == [1, 2, 3]


def test_windows_are_written_back_as_they_read() -> None:
    text = "Mon-Fri 09:00-18:00=1, Sat 10:00-24:00=2"
    assert keep(keep_warm=text).windows_text() == text
    weekend = keep(keep_warm="Fri-Mon 08:00-09:00=1").windows_text()  # wraps: one window per day
    assert weekend == "Mon 08:00-09:00=1, Fri 08:00-09:00=1, Sat 08:00-09:00=1, Sun 08:00-09:00=1"


def test_windows_are_read_in_their_time_zone() -> None:
    berlin = keep(keep_warm="Mon 09:00-10:00=1", keep_warm_tz="Europe/Berlin")  # 08:00-09:00 UTC in winter
    assert [berlin.floor_at(t) for t in (MONDAY_0859, MONDAY_0900)] == [1, 0]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("weekdays 09:00-18:00=1", "not like"),
        ("Mon-Fri 18:00-09:00=1", "ends before it starts"),
        ("Mon-Fry 09:00-18:00=1", "not a day"),
        ("Mon 09:00-25:00=1", "not a time of day"),
    ],
)
def test_a_malformed_window_is_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        keep(keep_warm=text)


def test_a_floor_above_the_maximum_and_an_unknown_zone_are_refused() -> None:
    with pytest.raises(SettingsError, match="above DARKROOM_MAX_WORKERS"):
        PoolSettings.from_env({"DARKROOM_MAX_WORKERS": "2", "DARKROOM_KEEP_WARM": "daily 00:00-24:00=3"})
    with pytest.raises(SettingsError, match="not a time zone"):
        keep(keep_warm_tz="Mars/Olympus")


def test_the_pool_and_the_worker_read_the_same_floor() -> None:
    env = {"DARKROOM_MIN_WORKERS": "1", "DARKROOM_KEEP_WARM": "Mon-Fri 09:00-18:00=2"}
    assert PoolSettings.from_env(env).keep_warm == WorkerSettings.from_env(env).keep_warm == KeepWarm.from_env(env)


def record(state: WorkerState, n: int) -> WorkerRecord:
    return WorkerRecord(f"i-{n:017x}", state, "2025-12-01T09:00:00Z", "2025-12-01T09:00:00Z")


def test_an_idle_worker_may_stop_only_while_the_others_keep_the_floor() -> None:
    me, other = record(WorkerState.READY, 1), record(WorkerState.BUSY, 2)
    gone = record(WorkerState.STOPPED, 3)
    assert may_stop([me], 0)
    assert not may_stop([me, gone], 1)
    assert may_stop([me, other], 1)
    assert not may_stop([me, other, record(WorkerState.DRAINING, 4)], 2)
