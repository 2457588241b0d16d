"""A worker on a spot instance drains on a notice: no new work, and each running job finishes or goes back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from jobs.ids import result_key
from jobs.pool import WorkerState
from jobs.status import JobState
from tests.worker.conftest import Instance, wait_until
from worker.imds import REBALANCE, SPOT_INTERRUPTION
from worker.lifecycle import fits_before


def test_a_notice_while_idle_drains_and_stops_without_taking_new_work(instance: Instance) -> None:
    worker = instance.worker(wait_seconds=2)
    submitted: list[str] = []

    def notice_then_a_job() -> None:
        wait_until(lambda: worker.recorder.record.state is WorkerState.READY, "ready")
        instance.imds.inject_interruption(120)
        wait_until(lambda: worker.recorder.record.state is WorkerState.DRAINING, "draining")
        submitted.append(instance.submit())  # may arrive during the worker's last long poll: handed back

    helper = threading.Thread(target=notice_then_a_job)
    helper.start()
    assert worker.run() == SPOT_INTERRUPTION
    helper.join()

    assert instance.enhancer.calls == []
    assert instance.status(submitted[0]).state is JobState.QUEUED
    assert instance.queue.depth().visible == 1  # waiting for another worker, now
    assert instance.store.states() == ["starting", "ready", "draining", "stopped"]
    assert instance.stored_record().reason == SPOT_INTERRUPTION


@pytest.mark.parametrize("reason", [SPOT_INTERRUPTION, REBALANCE])
def test_a_notice_mid_job_with_time_to_spare_lets_the_job_finish(instance: Instance, reason: str) -> None:
    job_id = instance.submit()
    worker = instance.worker()

    def notice() -> None:
        if reason == REBALANCE:  # no deadline at all
            instance.imds.inject_rebalance()
        else:
            instance.imds.inject_interruption(120)
        wait_until(lambda: worker.recorder.record.state is WorkerState.DRAINING, "draining")

    instance.enhancer.during_job = notice
    assert worker.run() == reason

    assert instance.status(job_id).state is JobState.DONE
    assert instance.queue.depth().visible == 0 and instance.queue.depth().in_flight == 0
    assert instance.store.states() == ["starting", "ready", "busy", "draining", "stopped"]
    assert instance.stored_record().jobs_done == 1


def test_a_notice_mid_job_too_near_its_deadline_hands_the_message_back_at_once(instance: Instance) -> None:
    job_id = instance.submit()
    worker = instance.worker()
    seen_while_running: list[int] = []

    def notice() -> None:
        instance.imds.inject_interruption(5)  # less than the 15 s margin
        wait_until(lambda: instance.queue.depth().visible == 1, "the message handed back")
        seen_while_running.append(instance.queue.depth().visible)

    instance.enhancer.during_job = notice
    assert worker.run() == SPOT_INTERRUPTION

    assert seen_while_running == [1]  # visible again while this worker was still computing
    status = instance.status(job_id)
    assert status.state is JobState.QUEUED and status.note is not None and "reclaimed" in status.note
    assert instance.store.get(result_key(job_id)) is None  # this worker's result was discarded
    record = instance.stored_record()
    assert record.state is WorkerState.STOPPED and record.jobs_done == 0 and record.job_id is None
    assert worker.jobs_done == 0

    instance.enhancer.during_job = lambda: None
    assert instance.worker(on_instance=False).run(max_jobs=1) == "max-jobs"  # another worker finishes it
    status = instance.status(job_id)
    assert status.state is JobState.DONE and status.attempts == 2  # SQS counted both deliveries


def test_a_notice_before_the_loop_starts_stops_it_before_any_job(instance: Instance) -> None:
    job_id = instance.submit()
    instance.imds.inject_interruption(120)
    assert instance.worker().run() == SPOT_INTERRUPTION
    assert instance.enhancer.calls == [] and instance.status(job_id).state is JobState.QUEUED
    assert instance.queue.depth().visible == 1


def test_fits_before_weighs_the_expected_remaining_time_and_the_margin() -> None:
    now = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    in_60 = now + timedelta(seconds=60)
    assert fits_before(None, now, elapsed=500, expected_seconds=10, margin_seconds=15)  # a rebalance: no deadline
    assert fits_before(in_60, now, elapsed=5, expected_seconds=30, margin_seconds=15)  # 25 + 15 <= 60
    assert not fits_before(in_60, now, elapsed=5, expected_seconds=60, margin_seconds=15)  # 55 + 15 > 60
    assert fits_before(in_60, now, elapsed=0, expected_seconds=None, margin_seconds=15)  # no estimate yet
    assert not fits_before(now + timedelta(seconds=10), now, elapsed=0, expected_seconds=None, margin_seconds=15)
    assert not fits_before(now - timedelta(seconds=1), now, elapsed=0, expected_seconds=0, margin_seconds=0)
