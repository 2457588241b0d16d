"""Canceling a queued job: it never runs, and its input (and any result) is deleted now.

The status is written only over the queued version that was read, so a worker
that takes the job at the same moment wins and the client is told it runs. A
worker that later receives the canceled job's message sees a finished job and
acknowledges it without a write (worker/job.py).
"""

from __future__ import annotations

import logging

from jobs.aws import Conflict
from jobs.status import JobState, JobStatus, iso_now
from jobs.store import JobStore

log = logging.getLogger(__name__)


class NotCancelable(Exception):
    """The job is running or has finished; ``status`` is what it is now."""

    def __init__(self, status: JobStatus) -> None:
        super().__init__(f"the job is {status.state.value}")
        self.status = status


def cancel_job(store: JobStore, status: JobStatus) -> JobStatus:
    """Cancel ``status``'s job if it is still queued (a canceled one again is fine); returns the canceled status."""
    found = store.read_status_version(status.job_id)
    current, version = found if found is not None else (status, "")
    if current.state is JobState.QUEUED:
        canceled = current.canceled(iso_now())
        try:  # only over the queued version read (or, with no status yet, only if none appeared)
            store.write_status(canceled, if_match=version, create=not version)
        except Conflict:  # a worker took it (or another cancel won) between the read and the write
            raise NotCancelable(store.read_status(status.job_id) or current) from None
        current = canceled
    if current.state is not JobState.CANCELED:
        raise NotCancelable(current)
    deleted = store.delete_job_files(current.job_id)
    log.info("job %s canceled; deleted %s", current.job_id, ", ".join(deleted) or "nothing")
    return current
