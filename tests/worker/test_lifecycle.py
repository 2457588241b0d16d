"""A worker on a spot instance: its record, idle stop and spot notices, against moto and the fake IMDS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from darkroom.local.aws import EMULATOR_CREDENTIALS, free_port
from darkroom.local.imds import FakeImds, InstanceIdentity
from jobs.aws import s3_client, sqs_client
from jobs.ids import result_key
from jobs.message import InputKind
from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobState, JobStatus
from jobs.store import JobStore
from jobs.submit import submit_job
from tests.worker.conftest import CountingBaseline, dark_jpeg
from worker.baseline import Baseline
from worker.frames import InputError, RawFrame, SrgbFrame
from worker.imds import REBALANCE, SPOT_INTERRUPTION
from worker.lifecycle import WorkerRecorder, fits_before
from worker.loop import Worker
from worker.settings import WorkerSettings
from worker.startup import find_instance, process_started_at, warm_up

INSTANCE_ID = "i-0abc1234def567890"


class RecordingStore(JobStore):
    """The real store (writes go to moto), keeping every worker record it writes, in order."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.records: list[WorkerRecord] = []

    def write_worker(self, record: WorkerRecord) -> None:
        self.records.append(record)
        super().write_worker(record)

    def states(self) -> list[WorkerState]:
        """The states written, with refreshes (repeats) left out."""
        states = [r.state for r in self.records]
        return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


@dataclass
class GatedBaseline(CountingBaseline):
    """The real baseline; ``during_job`` runs inside the enhancement, while the job's message is held."""

    during_job: Callable[[], None] = lambda: None

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        self.during_job()
        return super().enhance_srgb(frame, ratio)


@dataclass
class Instance:
    aws: AwsSettings
    imds: FakeImds
    store: RecordingStore
    queue: JobQueue
    dead_letters: JobQueue
    enhancer: GatedBaseline = field(default_factory=GatedBaseline)

    def worker(self, on_instance: bool = True, **overrides: object) -> Worker:
        fields: dict[str, object] = {
            "aws": self.aws,
            "worker_id": "spot-worker",
            "wait_seconds": 1,
            "lease_seconds": 30,
            "heartbeat_seconds": 10.0,
            "retry_base_seconds": 0.0,
            "dead_letter_sweep_seconds": 0.0,
            "imds_url": self.imds.url if on_instance else "",
            "idle_seconds": 0.0,
            "notice_poll_seconds": 0.2,
            "notice_margin_seconds": 15.0,
        }
        settings = WorkerSettings(**{**fields, **overrides})  # type: ignore[arg-type]
        metadata, recorder = find_instance(settings, self.store, time.time())
        return Worker(
            settings, self.store, self.queue, self.dead_letters, self.enhancer, recorder=recorder, metadata=metadata
        )

    def submit(self) -> str:
        return submit_job(self.store, self.queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, None).job_id

    def status(self, job_id: str) -> JobStatus:
        status = self.store.read_status(job_id)
        assert status is not None
        return status

    def stored_record(self) -> WorkerRecord:
        (record,) = self.store.read_workers()
        return record


@pytest.fixture
def instance(aws: AwsSettings) -> Iterator[Instance]:
    sqs = sqs_client(aws)
    with FakeImds(InstanceIdentity(INSTANCE_ID)) as imds:
        yield Instance(
            aws=aws,
            imds=imds,
            store=RecordingStore(s3_client(aws), aws.bucket),
            queue=JobQueue.named(sqs, aws.queue),
            dead_letters=JobQueue.named(sqs, aws.dead_letter_queue),
        )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


# -- the record and idle stop -------------------------------------------------


def test_the_record_goes_starting_ready_busy_ready_and_the_idle_worker_stops(instance: Instance) -> None:
    job_id = instance.submit()
    worker = instance.worker(idle_seconds=2.0)
    assert instance.stored_record().state is WorkerState.STARTING  # written before the model loads

    assert worker.run() == "idle"  # the job, then 2 s of empty receives

    assert instance.status(job_id).state is JobState.DONE
    assert instance.store.states() == ["starting", "ready", "busy", "ready", "stopped"]
    busy = next(r for r in instance.store.records if r.state is WorkerState.BUSY)
    assert busy.job_id == job_id and busy.instance_id == INSTANCE_ID
    record = instance.stored_record()
    assert record.state is WorkerState.STOPPED and record.reason == "idle"
    assert record.jobs_done == 1 and record.job_id is None
    assert record.service_seconds is not None and record.service_seconds > 0
    assert record.ready_at is not None and record.boot_seconds is not None and record.boot_seconds >= 0


def test_the_mean_service_time_counts_every_settled_job() -> None:
    recorder = WorkerRecorder(None, INSTANCE_ID, time.time(), refresh_seconds=60)
    for job, seconds in (("a", 2.0), ("b", 4.0), ("c", 6.0)):
        recorder.busy(job)
        recorder.job_ended(seconds, jobs_done=1)
    assert recorder.service_seconds == 4.0
    recorder.busy("d")
    recorder.handed_back()
    recorder.job_ended(100.0, jobs_done=1)  # a handed-back job says nothing about service time
    assert recorder.service_seconds == 4.0


def test_a_worker_with_no_metadata_service_works_as_before_and_writes_no_record(instance: Instance) -> None:
    job_id = instance.submit()
    worker = instance.worker(on_instance=False, idle_seconds=0.5)
    assert worker.metadata is None
    assert worker.run(max_jobs=1) == "max-jobs"
    assert instance.status(job_id).state is JobState.DONE
    assert instance.store.read_workers() == [] and instance.store.records == []


def test_an_unreachable_metadata_service_means_not_on_an_instance(aws: AwsSettings) -> None:
    settings = WorkerSettings(aws=aws, imds_url=f"http://127.0.0.1:{free_port()}")
    metadata, recorder = find_instance(settings, JobStore(s3_client(aws), aws.bucket), time.time())
    assert metadata is None and recorder.store is None


# -- spot notices ------------------------------------------------------------


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


# -- start-up ----------------------------------------------------------------


@dataclass
class SrgbOnly:
    name: str = "srgb-only"
    inner: Baseline = field(default_factory=Baseline)

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        raise InputError("unsupported-input", "RAW is not for this one")

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        return self.inner.enhance_srgb(frame, ratio)


def test_warm_up_runs_each_kind_once_and_tolerates_a_one_kind_enhancer() -> None:
    counting = CountingBaseline()
    assert warm_up(counting) >= 0
    assert counting.calls == ["raw", "srgb"]
    warm_up(SrgbOnly())


def test_the_worker_process_starts_reports_ready_idles_out_and_exits_zero(instance: Instance) -> None:
    before = time.time()
    env = {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        **instance.aws.to_env(),
        "DARKROOM_METHOD": "baseline",
        "DARKROOM_IMDS_URL": instance.imds.url,
        "DARKROOM_IDLE_SECONDS": "2",
        "DARKROOM_WAIT_SECONDS": "1",
    }
    done = subprocess.run([sys.executable, "-m", "worker"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ready" in done.stderr and "after its process started" in done.stderr
    record = instance.stored_record()
    assert record.state is WorkerState.STOPPED and record.reason == "idle"
    assert record.boot_seconds is not None and record.boot_seconds > 0
    started = datetime.fromisoformat(record.started_at.replace("Z", "+00:00")).timestamp()
    assert before - 1 < started < time.time()  # the child's own start, read from /proc
    assert process_started_at() < before  # this test process started earlier still


def test_the_instance_settings_come_from_the_environment() -> None:
    settings = WorkerSettings.from_env(
        {
            "DARKROOM_IMDS_URL": "",
            "DARKROOM_IDLE_SECONDS": "2.5",
            "DARKROOM_NOTICE_POLL_SECONDS": "5",
            "DARKROOM_NOTICE_MARGIN_SECONDS": "30",
        }
    )
    assert settings.imds_url == ""  # set but empty: not on an instance
    assert (settings.idle_seconds, settings.notice_poll_seconds, settings.notice_margin_seconds) == (2.5, 5.0, 30.0)
    defaults = WorkerSettings.from_env({})
    assert defaults.imds_url == "http://169.254.169.254" and defaults.idle_seconds == 300


def test_a_lease_is_handed_back_once_and_never_after_the_loop_settled_it() -> None:
    from jobs.ids import new_job_id
    from jobs.queue import Delivery
    from jobs.status import iso_now
    from worker.lifecycle import Lease

    def lease() -> Lease:
        delivery = Delivery(body="{}", receipt="receipt", message_id="message", receive_count=1)
        status = JobStatus.new(new_job_id(), InputKind.SRGB, None, iso_now())
        return Lease(delivery, status, heartbeat=None, started=0.0)  # type: ignore[arg-type]  # never beats here

    watched = lease()
    assert watched.claim_hand_back()
    assert not watched.claim_hand_back()  # the watcher's next poll must not hand it back again
    assert not watched.settle(Lease.LOOP) and watched.handed_back
    finished = lease()
    assert finished.settle(Lease.LOOP)
    assert not finished.claim_hand_back() and not finished.handed_back
