"""Jobs whose message ended in the dead-letter queue are marked failed, so no one waits on them forever.

SQS moves a message there after the queue's maxReceiveCount deliveries: a
worker crashed or was lost on it every time, or none could read it. An idle
worker sweeps now and then. The message stays for an operator to redrive,
hidden for an hour at a time so the next sweeps pass over it, and recorded
in S3 with its job's reason (jobs/dead_letters.py, ``darkroom dlq``).
"""

from __future__ import annotations

import json
import logging

from jobs import dead_letters as records
from jobs.aws import Conflict
from jobs.ids import is_job_id
from jobs.message import JobMessage, MessageError
from jobs.queue import JobQueue
from jobs.status import JobError, iso_now
from jobs.store import JobStore, VersionedStatus

log = logging.getLogger(__name__)

# keep swept messages out of the next sweeps for a while; SQS refuses a visibility that takes a message past
# 12 hours in all (counted from its first receipt; moto counts from its sending), so 12 h itself always fails
DEAD_LETTER_HOLD_SECONDS = 3600
WORKER_CRASHED = "worker-crashed"  # the error code of a dead-lettered job


def dead_lettered_job_id(body: str) -> str | None:
    """The job id in a dead-lettered message, read leniently: even a message of an
    unknown version names its job, and that job must not wait forever."""
    try:
        return JobMessage.from_json(body).job_id
    except MessageError:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        job_id = data.get("id") if isinstance(data, dict) else None
        return job_id if is_job_id(job_id) else None


def sweep_dead_letters(store: JobStore, dead_letters: JobQueue) -> int:
    """Mark the jobs of up to ten dead-lettered messages failed; returns how many were marked.

    Raises ``ServiceUnavailable`` when S3 or SQS fails; the next sweep picks up where this one stopped."""
    return _sweep_batch(store, dead_letters)[1]


def sweep_all_dead_letters(store: JobStore, dead_letters: JobQueue) -> int:
    """Sweep until no visible dead letter is left (``darkroom dlq``); returns how many messages were swept."""
    swept = 0
    while received := _sweep_batch(store, dead_letters)[0]:
        swept += received
    return swept


def _sweep_batch(store: JobStore, dead_letters: JobQueue) -> tuple[int, int]:
    """(messages received, jobs marked failed) of one receive of up to ten dead letters."""
    deliveries = dead_letters.receive_batch(wait_seconds=0, max_messages=10)
    marked = 0
    for delivery in deliveries:
        job_id = dead_lettered_job_id(delivery.body)
        found = store.read_status_version(job_id) if job_id else None
        if job_id is not None:  # recorded before the job's note is replaced by its error
            records.record(store, job_id, delivery, found.status if found else None)
        marked += _mark_failed(store, job_id, found)
        dead_letters.set_visibility(delivery, DEAD_LETTER_HOLD_SECONDS)
    return len(deliveries), marked


def _mark_failed(store: JobStore, job_id: str | None, found: VersionedStatus | None) -> int:
    if found is None or found.status.state.terminal:
        return 0
    error = JobError(
        WORKER_CRASHED,
        "processing stopped unexpectedly on every attempt (the worker crashed or was lost, or could not "
        "read the job); the job was moved to the dead-letter queue",
    )
    try:
        store.write_status(found.status.failed(error, iso_now()), if_match=found.version)
    except Conflict:  # a worker wrote it since: the next sweep looks again
        log.warning("job %s: changed while being marked failed; left for the next sweep", job_id)
        return 0
    log.error("job %s: dead-lettered after repeated failures; marked failed", job_id)
    return 1
