"""A worker that receives a canceled job's message acknowledges it and never runs it."""

from __future__ import annotations

import pytest

from jobs.aws import Conflict
from jobs.cancel import NotCancelable, cancel_job
from jobs.message import InputKind
from jobs.status import JobState, iso_now
from jobs.store import JobStore, VersionedStatus
from tests.worker.conftest import Parts, dark_jpeg


def test_a_canceled_job_is_acknowledged_without_running(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    cancel_job(parts.store, parts.status(job_id))
    assert parts.store.bucket.keys(f"uploads/{job_id}") == []
    parts.worker().run(max_jobs=1)
    assert parts.enhancer.calls == []
    assert parts.status(job_id).state is JobState.CANCELED
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0


class WorkerTakesItDuringTheRead(JobStore):
    """The real store, with a worker's processing write landing just after the cancel's read."""

    def read_status_version(self, job_id: str) -> VersionedStatus | None:
        found = super().read_status_version(job_id)
        if found is not None and found.status.state is JobState.QUEUED:
            self.write_status(found.status.processing("i-racer", 1, iso_now()), if_match=found.version)
        return found


def test_a_cancel_that_loses_the_race_to_a_worker_says_so_and_deletes_nothing(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    racing = WorkerTakesItDuringTheRead(parts.store.bucket.s3, parts.store.bucket.name)
    with pytest.raises(NotCancelable) as refused:
        cancel_job(racing, parts.status(job_id))
    assert refused.value.status.state is JobState.PROCESSING  # the worker's write stands
    assert parts.status(job_id).state is JobState.PROCESSING
    assert parts.store.bucket.keys(f"uploads/{job_id}") != []  # its input is still there to run


def test_a_worker_that_read_queued_before_the_cancel_does_not_overwrite_canceled(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    read_by_worker = parts.store.read_status_version(job_id)
    assert read_by_worker is not None
    cancel_job(parts.store, parts.status(job_id))
    with pytest.raises(Conflict):  # the worker's processing write is only over the version it read
        parts.store.write_status(
            read_by_worker.status.processing("i-late", 1, iso_now()), if_match=read_by_worker.version
        )
    parts.worker().run(max_jobs=1)  # its message comes round again: acknowledged, never run
    assert parts.enhancer.calls == [] and parts.status(job_id).state is JobState.CANCELED
