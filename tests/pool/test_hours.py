"""The daily instance-hours cap: the arithmetic on runs worked by hand, the setting, and the note. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.pool import WorkerRecord, WorkerState
from jobs.settings import SettingsError
from pool.book import LaunchOutcome
from pool.ec2 import Instance
from pool.hours import Run, cap_reached, ended_at, hours_today, ledger_days, with_unrecorded
from pool.note import waiting_note
from pool.settings import PoolSettings
from tests.pool.test_view import view_of

NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)  # six hours into the day


def test_a_run_across_midnight_counts_only_its_part_inside_today() -> None:
    assert hours_today([Run("i-00000001", "2026-11-20T22:00:00.000Z")], NOW) == 6.0  # still open: up to now
    assert hours_today([Run("i-00000001", "2026-11-20T22:00:00.000Z", "2026-11-21T01:30:00.000Z")], NOW) == 1.5
    assert hours_today([Run("i-00000001", "2026-11-20T20:00:00.000Z", "2026-11-20T23:59:00.000Z")], NOW) == 0.0


def test_ended_and_open_runs_of_several_instances_add_up() -> None:
    runs = [
        Run("i-00000001", "2026-11-21T01:00:00.000Z", "2026-11-21T01:45:00.000Z"),  # 0.75 h
        Run("i-00000002", "2026-11-21T02:00:00.000Z", "2026-11-21T04:00:00.000Z"),  # 2 h
        Run("i-00000003", "2026-11-21T05:30:00.000Z"),  # open: 0.5 h up to now
        Run("i-00000004", "2026-11-20T23:00:00.000Z", "2026-11-21T00:15:00.000Z"),  # 0.25 h of it today
    ]
    assert hours_today(runs, NOW) == 3.5
    assert hours_today([], NOW) == 0.0


def test_yesterday_and_today_are_read() -> None:
    assert ledger_days(NOW) == ("2026-11-21", "2026-11-20")
    assert ledger_days(datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC)) == ("2026-03-01", "2026-02-28")


def test_live_instances_the_ledger_does_not_know_are_counted_from_their_launch() -> None:
    runs = [Run("i-00000001", "2026-11-21T05:00:00.000Z")]
    instances = [
        Instance("i-00000001", "g6.xlarge", "running", "spot", "2026-11-21T05:00:01.000Z"),  # known: not twice
        Instance("i-00000002", "g6.xlarge", "running", "spot", "2026-11-18T09:00:00.000Z"),  # up for days
        Instance("i-00000003", "g6.xlarge", "terminated", "spot", "2026-11-21T01:00:00.000Z"),  # gone: its run ended
    ]
    merged = with_unrecorded(runs, instances)
    assert [run.instance_id for run in merged] == ["i-00000001", "i-00000002"]
    assert hours_today(merged, NOW) == 7.0  # one hour, and the whole day so far


def test_a_worker_that_stopped_itself_ended_at_its_last_write() -> None:
    stopped = WorkerRecord("i-00000001", WorkerState.STOPPED, "2026-11-21T01:00:00.000Z", "2026-11-21T02:00:00.000Z")
    silent = WorkerRecord("i-00000002", WorkerState.BUSY, "2026-11-21T01:00:00.000Z", "2026-11-21T02:00:00.000Z")
    assert ended_at([stopped, silent], "i-00000001", NOW) == "2026-11-21T02:00:00.000Z"
    assert ended_at([stopped, silent], "i-00000002", NOW) == "2026-11-21T06:00:00.000Z"  # seen gone now
    assert ended_at([], "i-00000003", NOW) == "2026-11-21T06:00:00.000Z"


def test_the_cap_says_why_in_plain_words_once_used_up() -> None:
    assert cap_reached(0, 500.0) is None  # no cap
    assert cap_reached(8, 7.99) is None
    expected = "the daily cap of 8 instance-hours is used up (8.2 h today); no new worker starts before 00:00 UTC"
    assert cap_reached(8, 8.2) == expected
    assert str(cap_reached(2.5, 2.5)).startswith("the daily cap of 2.5 instance-hours is used up (2.5 h today)")


def test_a_waiting_job_says_the_cap_is_reached() -> None:
    why = str(cap_reached(8, 8.2))
    capped = LaunchOutcome("2026-11-21T06:00:00.000Z", why, capped=True)
    assert waiting_note(view_of([], last_launch=capped), ahead=0) == why
    assert LaunchOutcome.from_json(capped.to_json()) == capped
    assert LaunchOutcome.from_json('{"at":"x","error":null,"capacity":false,"newer":1}') == LaunchOutcome("x")


def test_the_cap_setting() -> None:
    assert PoolSettings.from_env({}).daily_instance_hours == 0
    assert PoolSettings.from_env({"DARKROOM_DAILY_INSTANCE_HOURS": "12.5"}).daily_instance_hours == 12.5
    for bad in ("-1", "nan"):
        with pytest.raises(SettingsError, match="daily_instance_hours"):
            PoolSettings.from_env({"DARKROOM_DAILY_INSTANCE_HOURS": bad})
    with pytest.raises(SettingsError, match="DARKROOM_DAILY_INSTANCE_HOURS"):
        PoolSettings.from_env({"DARKROOM_DAILY_INSTANCE_HOURS": "lots"})
