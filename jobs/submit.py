"""Submitting a job: store the upload, write its status, enqueue its id.

The order matters. The message goes last, so no worker ever receives a job
whose upload or status is missing; if any step fails, what was already
written is removed and the caller learns the service is unavailable.
"""

from __future__ import annotations

import logging

from jobs.aws import ServiceUnavailable
from jobs.ids import new_job_id, status_key
from jobs.message import InputKind, JobMessage
from jobs.outputs import JPEG, OutputFormat
from jobs.queue import JobQueue
from jobs.status import JobStatus, iso_now
from jobs.store import JobStore

log = logging.getLogger(__name__)


def submit_job(
    store: JobStore,
    queue: JobQueue,
    data: bytes,
    ext: str,
    content_type: str,
    kind: InputKind,
    ratio: float | None,
    callback_url: str | None = None,
    owner: str | None = None,
    output: OutputFormat = JPEG,
) -> JobStatus:
    """Store, record and enqueue one validated upload; returns its queued status.

    ``owner``: the hash of the API key that submitted it (None without a key).
    """
    job_id = new_job_id()
    now = iso_now()
    status = JobStatus.new(job_id, kind, ratio, now, callback_url, owner)
    written: list[str] = []
    try:
        written.append(store.put_upload(job_id, ext, data, content_type))
        store.write_status(status)
        written.append(status_key(job_id))
        if owner is not None:
            written.append(store.index_owner(status))
        queue.send(JobMessage(job_id, written[0], kind, ratio, now, output))
    except ServiceUnavailable:
        _remove(store, written)
        raise
    return status


def enqueue_stored(
    store: JobStore,
    queue: JobQueue,
    job_id: str,
    key: str,
    kind: InputKind,
    ratio: float | None,
    callback_url: str | None = None,
    owner: str | None = None,
) -> JobStatus:
    """Record and enqueue an upload already in S3 (a direct upload).

    If the queue fails, the status is removed again and the upload kept, so
    the client can submit the same upload id once more. The status is created
    only if the job has none (``Conflict`` else), so one upload makes at
    most one job even when two requests race to submit it.
    """
    now = iso_now()
    status = JobStatus.new(job_id, kind, ratio, now, callback_url, owner)
    store.write_status(status, create=True)
    written = [status_key(job_id)]
    try:
        if owner is not None:
            written.append(store.index_owner(status))
        queue.send(JobMessage(job_id, key, kind, ratio, now))
    except ServiceUnavailable:
        _remove(store, written)
        raise
    return status


def _remove(store: JobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.bucket.delete(key)
        except ServiceUnavailable as exc:  # bucket lifecycle expiry removes it later
            log.warning("could not remove %s after a failed submit: %s", key, exc)
