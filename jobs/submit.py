"""Submitting a job: store the upload, write its status, enqueue its id.

The order matters. The message goes last, so no worker ever receives a job
whose upload or status is missing; if any step fails, what was already
written is removed and the caller learns the service is unavailable.

A process that dies between the status and the message (killed, out of
memory, its host gone) cannot clean up: its job would wait ``queued``
forever with nothing in the queue. So the message is first written to S3
under ``sending/`` and removed once the queue has it; ``resend_stranded``,
run by the API's timer (api/tick.py), sends what was left behind again (or
fails the job when its upload is gone).
"""

from __future__ import annotations

import logging

from jobs.aws import NotFound, ServiceUnavailable
from jobs.ids import SENDING_PREFIX, new_job_id, sending_key, status_key
from jobs.message import InputKind, JobMessage, MessageError
from jobs.outputs import JPEG, OutputFormat
from jobs.queue import JobQueue
from jobs.status import JobError, JobState, JobStatus, iso_now, parse_iso
from jobs.store import JobStore

log = logging.getLogger(__name__)

STRANDED_AFTER_SECONDS = 120.0  # far longer than any submit takes: a marker this old was left by a dead process


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
        message = JobMessage(job_id, written[0], kind, ratio, now, output)
        written.append(_mark_sending(store, message))
        store.write_status(status, create=True)
        written.append(status_key(job_id))
    except ServiceUnavailable:
        _remove(store, written)
        raise
    _index_and_send(store, queue, status, message, written)
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
    output: OutputFormat = JPEG,
) -> JobStatus:
    """Record and enqueue an upload already in S3 (a direct upload).

    If the queue fails, the status is removed again and the upload kept, so
    the client can submit the same upload id once more. The status is created
    only if the job has none (``Conflict`` else), so one upload makes at
    most one job even when two requests race to submit it.
    """
    now = iso_now()
    status = JobStatus.new(job_id, kind, ratio, now, callback_url, owner)
    message = JobMessage(job_id, key, kind, ratio, now, output)
    marker = _mark_sending(store, message)
    try:
        store.write_status(status, create=True)  # Conflict: another request made this job (its marker is kept)
    except ServiceUnavailable:
        _remove(store, [marker])
        raise
    _index_and_send(store, queue, status, message, [status_key(job_id), marker])
    return status


def _index_and_send(
    store: JobStore, queue: JobQueue, status: JobStatus, message: JobMessage, written: list[str]
) -> None:
    """The submit's last steps: index the job under its key's owner and hand its message to the queue.

    If either fails, what the submit ``written`` is removed; once the queue has it, the sending/ marker goes."""
    try:
        if status.owner is not None:
            written.append(store.index_owner(status))
        queue.send(message)
    except ServiceUnavailable:
        _remove(store, written)
        raise
    _remove(store, [sending_key(status.job_id)])


def _mark_sending(store: JobStore, message: JobMessage) -> str:
    """Keep the message in S3 until the queue has it (see the module's docstring); returns the marker's key."""
    key = sending_key(message.job_id)
    store.bucket.write(key, message.to_json().encode())
    return key


def resend_stranded(store: JobStore, queue: JobQueue, older_than_seconds: float = STRANDED_AFTER_SECONDS) -> int:
    """Send again the messages of jobs whose submit died before the queue had them; returns how many were.

    A marker younger than ``older_than_seconds`` belongs to a submit that may
    still be running. A job whose status is gone was never accepted (the
    client got no id); one a worker has seen was sent; a queued one whose
    upload is gone is failed, since no worker could run it.
    """
    resent = 0
    for key in store.bucket.keys(SENDING_PREFIX):
        found = store.bucket.find(key)
        if found is None:  # its submit finished meanwhile
            continue
        try:
            message = JobMessage.from_json(found.body.decode())
        except (MessageError, UnicodeDecodeError):
            log.error("removing %s: not a job message", key)
            _remove(store, [key])
            continue
        age = (parse_iso(iso_now()) - parse_iso(message.submitted_at)).total_seconds()
        if age < older_than_seconds:
            continue
        resent += _resend(store, queue, message)
        _remove(store, [key])
    return resent


def _resend(store: JobStore, queue: JobQueue, message: JobMessage) -> int:
    found = store.read_status_version(message.job_id)
    if found is None or found.status.state is not JobState.QUEUED or JobState.PROCESSING.value in found.status.stages:
        return 0  # never accepted, or a worker has seen its message
    try:
        store.bucket.size(message.upload_key)
    except NotFound:
        error = JobError("upload-missing", "the uploaded file was lost before the job reached the queue")
        store.write_status(found.status.failed(error, iso_now()), if_match=found.version)
        log.error("job %s: stranded before the queue, and its upload is gone; failed", message.job_id)
        return 0
    queue.send(message)
    log.warning("job %s: its submit died before the queue had it; sent again", message.job_id)
    return 1


def _remove(store: JobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.bucket.delete(key)
        except ServiceUnavailable as exc:  # bucket lifecycle expiry removes it later
            log.warning("could not remove %s after a failed submit: %s", key, exc)
