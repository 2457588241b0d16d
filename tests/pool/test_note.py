"""pool/note.py: why a queued job waits, for the branches tests/pool/test_view.py does not reach."""

from __future__ import annotations

from jobs.pool import WorkerState
from pool.book import LaunchOutcome
from pool.note import launch_failure, plural, waiting_note
from tests.pool.test_view import SETTINGS, ago, instance, record, view_of


def test_with_no_worker_and_room_for_one_the_job_waits_for_a_worker() -> None:
    assert waiting_note(view_of([]), ahead=0) == "waiting for a worker"
    draining = view_of([instance(1)], [record(1, WorkerState.DRAINING)])  # one of three slots held
    assert waiting_note(draining, ahead=0) == "waiting for a worker"


def test_a_ready_worker_beside_a_busy_one_will_take_the_job_shortly() -> None:
    view = view_of([instance(1), instance(2)], [record(1, WorkerState.BUSY), record(2, WorkerState.READY)])
    assert waiting_note(view, ahead=3) is None


def test_with_every_slot_held_by_a_worker_going_away_the_job_waits_for_one_to_stop() -> None:
    full = [instance(n) for n in range(1, SETTINGS.max_workers + 1)]
    view = view_of(full, [record(n, WorkerState.DRAINING) for n in range(1, SETTINGS.max_workers + 1)])
    assert (view.working, view.booting, view.occupied) == (0, 0, SETTINGS.max_workers)
    assert waiting_note(view, ahead=0) == "waiting for a worker to stop so another can start"


def test_several_workers_booting_and_a_busy_one_are_both_said() -> None:
    view = view_of([instance(1), instance(2, launched=12.4), instance(3, launched=30)], [record(1, WorkerState.BUSY)])
    assert (
        waiting_note(view, ahead=2) == "the worker is busy; about 2 jobs ahead; starting 2 workers (booting for 30 s)"
    )


def test_a_failed_launch_is_not_mentioned_while_a_worker_boots() -> None:
    failed = LaunchOutcome(ago(1), "InsufficientInstanceCapacity: no g6 left", capacity=True)
    assert (
        waiting_note(view_of([instance(1, launched=5)], last_launch=failed), 0) == "starting a worker (booting for 5 s)"
    )


def test_the_daily_cap_speaks_in_its_own_words() -> None:
    capped = LaunchOutcome(ago(1), "the daily cap of 8 instance-hours is used up", capacity=False, capped=True)
    assert launch_failure(capped) == "the daily cap of 8 instance-hours is used up"
    assert launch_failure(None) is None  # no launch tried: nothing to say (security: no EC2 text here)


def test_plural_is_singular_for_one_only() -> None:
    assert (plural(0, "job"), plural(1, "job"), plural(2, "job")) == ("0 jobs", "1 job", "2 jobs")
