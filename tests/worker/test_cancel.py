"""A worker that receives a canceled job's message acknowledges it and never runs it."""

from __future__ import annotations

from jobs.cancel import cancel_job
from jobs.message import InputKind
from jobs.status import JobState
from tests.worker.conftest import Parts, dark_jpeg


def test_a_canceled_job_is_acknowledged_without_running(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    cancel_job(parts.store, parts.status(job_id))
    assert parts.store.bucket.keys(f"uploads/{job_id}") == []
    parts.worker().run(max_jobs=1)
    assert parts.enhancer.calls == []
    assert parts.status(job_id).state is JobState.CANCELED
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0
