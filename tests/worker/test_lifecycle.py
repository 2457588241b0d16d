"""A worker on a spot instance: its record, idle stop and spot notices, against moto and the fake IMDS."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pytest

from darkroom.local.aws import EMULATOR_CREDENTIALS, free_port
from jobs.aws import s3_client
from jobs.keepwarm import KeepWarm
from jobs.message import InputKind
from jobs.pool import WorkerRecord, WorkerState
from jobs.settings import AwsSettings
from jobs.status import JobState, JobStatus, iso_now
from jobs.store import JobStore
from tests.worker.conftest import INSTANCE_ID, CountingBaseline, Instance, wait_until
from worker.baseline import Baseline
from worker.frames import InputError, RawFrame, SrgbFrame
from worker.lifecycle import WorkerRecorder
from worker.settings import WorkerSettings
from worker.startup import find_instance, process_started_at, warm_up

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


def test_an_idle_worker_stays_while_the_keep_warm_floor_needs_it(
    instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="worker.loop")
    worker = instance.worker(idle_seconds=0.5, keep_warm=KeepWarm(min_workers=1))
    seen: list[WorkerState] = []

    def second_worker_comes_up() -> None:  # then this one is no longer needed for the floor
        try:
            wait_until(lambda: "kept warm" in caplog.text, "the idle worker staying for the floor")
        finally:
            seen.append(instance.stored_record().state)
            now = iso_now()
            instance.store.write_worker(WorkerRecord("i-0000000000000beef", WorkerState.READY, now, now))

    helper = threading.Thread(target=second_worker_comes_up)
    helper.start()
    assert worker.run() == "idle"  # the signal handlers need the main thread
    helper.join()
    assert "kept warm" in caplog.text and seen == [WorkerState.READY]


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
