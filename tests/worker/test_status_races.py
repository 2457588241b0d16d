"""Every status write is conditional on the version its writer read, so no writer undoes another's.

Against a real moto server: another worker's writes land between this
worker's read and its write, or while this worker's job runs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from jobs.ids import result_key
from jobs.message import InputKind
from jobs.status import JobResult, JobState, JobStatus, iso_now
from jobs.store import JobStore, VersionedStatus
from tests.worker.conftest import CountingBaseline, Parts, dark_jpeg
from worker.frames import InputError, SrgbFrame


def finished_by_another(status: JobStatus) -> JobStatus:
    """What a second worker writes when it runs the job to the end."""
    result = JobResult(result_key(status.job_id), 160, 120, 1234)
    return status.processing("other-worker", 2, iso_now()).done(result, 1.0, "baseline", {}, iso_now())


class FinishedRightAfterRead(JobStore):
    """The real store; the first status read is followed at once by another worker finishing the job."""

    raced = False

    def read_status_version(self, job_id: str) -> VersionedStatus | None:
        found = super().read_status_version(job_id)
        if found is not None and not self.raced:
            self.raced = True
            self.write_status(finished_by_another(found.status), if_match=found.version)
        return found


def test_a_duplicate_delivery_does_not_turn_done_back_into_processing(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts = replace(parts, store=FinishedRightAfterRead(parts.store.bucket.s3, parts.store.bucket.name))
    parts.worker().run(max_jobs=1)  # read queued; the other worker finished; its "processing" loses
    status = parts.status(job_id)
    assert status.state is JobState.DONE and status.worker == "other-worker", status
    assert parts.enhancer.calls == []  # not run again

    parts.worker().run(max_jobs=1)  # the message came back: acknowledged as done
    assert parts.status(job_id) == status
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0


@pytest.mark.parametrize(
    "failure", [RuntimeError("a bug"), InputError("corrupt-input", "the picture is damaged")], ids=["retry", "fail"]
)
def test_a_worker_whose_job_was_taken_over_and_finished_does_not_overwrite_done(
    parts: Parts, failure: Exception
) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    store = parts.store

    class TakenOverThenFails(CountingBaseline):
        """While this worker runs the job (its lease lost), another takes it over and finishes; then this one fails."""

        def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
            found = store.read_status_version(job_id)
            assert found is not None and found.status.worker == "test-worker"
            store.write_status(finished_by_another(found.status), if_match=found.version)
            raise failure

    parts.enhancer = TakenOverThenFails()
    parts.worker().run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.DONE and status.worker == "other-worker", status  # not requeued, not failed
