"""The pool's view, a waiting job's note and ETA, and the reaper's plan: pure code on made-up observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import QueueDepth
from pool.book import LaunchOutcome, Measured, Slot
from pool.ec2 import Instance, iso
from pool.note import CANNOT_LAUNCH, NO_CAPACITY, waiting_note
from pool.reaper import plan_reaping, remember
from pool.settings import PoolSettings
from pool.view import Observation, Phase, PoolView, build_view

NOW = datetime(2026, 11, 21, 19, 0, 0, tzinfo=UTC)
SETTINGS = PoolSettings(enabled=True, name="p", max_workers=3, boot_timeout_seconds=600, stale_record_seconds=120)


def ago(seconds: float) -> str:
    return iso(NOW - timedelta(seconds=seconds))


def instance(n: int, launched: float = 60, state: str = "running", lifecycle: str = "spot") -> Instance:
    return Instance(f"i-{n:08x}", "g6.xlarge", state, lifecycle, ago(launched))


def record(n: int, state: WorkerState, updated: float = 1, ready: float | None = 30, **more: object) -> WorkerRecord:
    return WorkerRecord(
        f"i-{n:08x}", state, started_at=ago(50), updated_at=ago(updated), ready_at=None if ready is None else ago(ready)
    ).but(**more)


def slot(index: int, n: int | None, claimed: float = 60) -> Slot:
    return Slot(index, ago(claimed), "host:1", None if n is None else f"i-{n:08x}", "g6.xlarge", "spot", etag='"e"')


def observe(
    instances: list[Instance],
    records: list[WorkerRecord] = (),  # type: ignore[assignment]
    slots: list[Slot] | None = None,
    visible: int = 1,
    in_flight: int = 0,
    last_launch: LaunchOutcome | None = None,
    measured: Measured | None = None,
) -> Observation:
    if slots is None:
        slots = [slot(k, int(i.instance_id[2:], 16)) for k, i in enumerate(instances)]
    return Observation(
        tuple(instances),
        tuple(records),
        tuple(slots),
        QueueDepth(visible, in_flight),
        last_launch,
        measured or Measured(),
        NOW,
    )


def view_of(*args: object, **kwargs: object) -> PoolView:
    return build_view(observe(*args, **kwargs), SETTINGS)  # type: ignore[arg-type]


def test_workers_take_their_state_from_records_and_boot_without_one() -> None:
    view = view_of(
        [instance(1), instance(2), instance(3), instance(4, state="terminated")],
        [record(2, WorkerState.READY), record(3, WorkerState.BUSY, job_id="job-1")],
    )
    assert [(w.instance_id, w.phase, w.job_id) for w in view.workers] == [
        ("i-00000001", Phase.BOOTING, None),
        ("i-00000002", Phase.READY, None),
        ("i-00000003", Phase.BUSY, "job-1"),
    ]
    booting = view.workers[0]
    assert booting.since == booting.launched_at == ago(60)
    assert (booting.instance_type, booting.lifecycle) == ("g6.xlarge", "spot")
    assert view.workers[1].since == ago(30)  # ready since ready_at
    assert (view.booting, view.working, view.booting_for) == (1, 2, 60)


def test_a_silent_worker_is_stopped_whatever_ec2_says() -> None:
    view = view_of([instance(1, launched=900)], [record(1, WorkerState.BUSY, updated=300)])
    assert view.workers[0].phase is Phase.STOPPED
    assert view.workers[0].reason == "silent for 300 s"
    assert view.working == 0


def test_launches_in_progress_and_instances_ec2_does_not_list_yet_are_booting() -> None:
    view = view_of([], slots=[slot(0, None, claimed=2), slot(1, 7, claimed=3)])
    assert view.launching == 1
    assert [(w.instance_id, w.phase) for w in view.workers] == [("i-00000007", Phase.BOOTING)]
    assert (view.booting, view.occupied) == (2, 2)


def test_an_instance_without_a_slot_still_counts_against_the_maximum() -> None:
    view = view_of([instance(1), instance(2)], slots=[slot(0, 1)])
    assert view.occupied == 2
    assert view.counts().occupied == 2


def test_boot_and_service_times_come_from_workers_then_memory_then_the_estimate() -> None:
    live = [record(1, WorkerState.READY, boot_seconds=40.0, service_seconds=3.0)]
    assert (view_of([instance(1)], live).boot_seconds, view_of([instance(1)], live).service_seconds) == (40.0, 3.0)
    remembered = view_of([], measured=Measured(55.0, 8.0))
    assert (remembered.boot_seconds, remembered.service_seconds) == (55.0, 8.0)
    assert (view_of([]).boot_seconds, view_of([]).service_seconds) == (SETTINGS.boot_seconds_estimate, None)


def test_notes_say_why_a_job_waits() -> None:
    booting = view_of([instance(1, launched=40)])
    assert waiting_note(booting, ahead=0) == "starting a worker (booting for 40 s)"
    busy = view_of([instance(1), instance(2)], [record(1, WorkerState.BUSY), record(2, WorkerState.BUSY)])
    assert waiting_note(busy, ahead=5) == "all 2 workers busy; about 5 jobs ahead"
    one_busy = view_of([instance(1)], [record(1, WorkerState.BUSY)])
    assert waiting_note(one_busy, ahead=1) == "the worker is busy; about 1 job ahead"
    failed = LaunchOutcome(ago(1), "InsufficientInstanceCapacity: no g6 left", capacity=True)
    assert waiting_note(view_of([], last_launch=failed), 0) == NO_CAPACITY  # EC2's own words stay in the logs
    broken = LaunchOutcome(ago(1), "InvalidLaunchTemplateName.NotFoundException: nope", capacity=False)
    assert waiting_note(view_of([], last_launch=broken), 0) == CANNOT_LAUNCH
    ready = view_of([instance(1)], [record(1, WorkerState.READY)], last_launch=failed)
    assert waiting_note(ready, ahead=0) is None


def test_reaper_terminates_what_never_became_ready_and_what_went_silent() -> None:
    seen = observe(
        [
            instance(1, launched=700),  # no record, past the boot timeout
            instance(2, launched=700),
            instance(3, launched=700),
            instance(4, launched=30),  # still booting: fine
            instance(5, launched=700),
        ],
        [
            record(2, WorkerState.STARTING, ready=None),  # loading its model for too long
            record(3, WorkerState.BUSY, updated=200),  # crashed
            record(5, WorkerState.READY),  # healthy
        ],
    )
    plan = plan_reaping(seen, SETTINGS)
    terminated = {i.instance_id: why for i, why in plan.terminate}
    assert set(terminated) == {"i-00000001", "i-00000002", "i-00000003"}
    assert terminated["i-00000001"] == "not ready 700 s after launch"
    assert "silent for 200 s" in terminated["i-00000003"]
    assert plan.free == () and plan.forget == ()


def test_reaper_forgets_the_records_and_slots_of_instances_that_are_gone() -> None:
    gone, live = instance(1, state="terminated"), instance(2)
    seen = observe(
        [gone, live],
        [record(1, WorkerState.STOPPED, boot_seconds=50.0, service_seconds=4.0), record(9, WorkerState.READY, 500)],
        slots=[slot(0, 1), slot(1, 2), slot(2, None, claimed=400), slot(3, None, claimed=5), slot(4, 8, claimed=400)],
    )
    plan = plan_reaping(seen, SETTINGS)
    assert plan.terminate == ()
    assert sorted(r.instance_id for r in plan.forget) == ["i-00000001", "i-00000009"]
    assert [s.index for s in plan.free] == [0, 2, 4]  # 3 is a launch in progress


def test_remembered_times_move_towards_what_departed_workers_measured() -> None:
    departed = [record(1, WorkerState.STOPPED, boot_seconds=100.0, service_seconds=4.0)]
    assert remember(Measured(), departed) == Measured(100.0, 4.0)
    moved = remember(Measured(50.0, 2.0), departed)
    assert moved.boot_seconds is not None and 50 < moved.boot_seconds < 100
    assert remember(Measured(50.0, 2.0), []) == Measured(50.0, 2.0)
