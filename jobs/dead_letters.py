"""Dead letters an operator can see, redrive and purge (``darkroom dlq``).

The worker's sweep (worker/dead_letters.py) marks a dead-lettered job failed
and hides its message for an hour at a time, so SQS alone cannot show it to
an operator. Each sweep therefore records the message in S3, under
``dead-letters/{id}.json``: its body, its latest receipt (which can still
delete it while it is hidden) and the job's last reason, in words.

A redrive writes the job's status back to queued first, then sends the same
message to the job queue, then deletes the dead copy and the record: a
worker never meets a redriven message whose status still says failed, and a
redrive cut short leaves the job failed and listed, never lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from jobs.aws import AWS_ERRORS, unavailable
from jobs.ids import check_job_id
from jobs.message import JobMessage
from jobs.queue import Delivery, JobQueue
from jobs.status import JobState, JobStatus, iso_now
from jobs.store import JobStore

log = logging.getLogger(__name__)

PREFIX = "dead-letters/"


@dataclass(frozen=True)
class DeadLetter:
    job_id: str
    message_id: str
    receipt: str  # the latest receive's: deletes the message even while it is hidden
    body: str
    reason: str  # why its job stopped, in words: the last retry's note or the job's error
    at: str  # when a sweep first found it

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()


def record_key(job_id: str) -> str:
    return f"{PREFIX}{check_job_id(job_id)}.json"


def last_reason(status: JobStatus | None) -> str:
    """Why the job stopped: its error once failed, else the note its last retry left."""
    if status is None:
        return "the job has no status document"
    if status.error is not None:
        return f"{status.error.message} ({status.error.code})"
    return status.note or "workers took it and never finished: they crashed or were lost, or could not read it"


def record(store: JobStore, job_id: str, delivery: Delivery, status: JobStatus | None) -> DeadLetter:
    """Record (or refresh, with the new receipt) a dead-lettered message found by a sweep."""
    found = read(store, job_id)
    reason = found.reason if found is not None else last_reason(status)
    at = found.at if found is not None else iso_now()
    letter = DeadLetter(job_id, delivery.message_id, delivery.receipt, delivery.body, reason, at)
    store.bucket.write(record_key(job_id), letter.to_json(), "application/json")
    return letter


def read(store: JobStore, job_id: str) -> DeadLetter | None:
    body = store.get(record_key(job_id))
    return None if body is None else DeadLetter(**json.loads(body))


def listed(store: JobStore) -> list[DeadLetter]:
    """Every recorded dead letter, oldest first."""
    ids = [key[len(PREFIX) : -len(".json")] for key in store.bucket.keys(PREFIX)]
    letters = [letter for letter in map(lambda job_id: read(store, job_id), ids) if letter is not None]
    return sorted(letters, key=lambda letter: letter.at)


def delete_message(dead_letters: JobQueue, letter: DeadLetter) -> None:
    try:
        dead_letters.sqs.delete_message(QueueUrl=dead_letters.url, ReceiptHandle=letter.receipt)
    except AWS_ERRORS as exc:
        raise unavailable("deleting the dead letter", exc) from exc


def redrive(store: JobStore, queue: JobQueue, dead_letters: JobQueue, letter: DeadLetter) -> JobStatus:
    """Run the job once more: queued again with a note, its message back on the job queue."""
    message = JobMessage.from_json(letter.body)
    found = store.read_status_version(letter.job_id)
    status = found.status if found else JobStatus.new(message.job_id, message.kind, message.ratio, message.submitted_at)
    if status.state is JobState.DONE:  # it finished after all: nothing to run again
        purge(store, dead_letters, letter)
        return status
    queued = status.redriven(
        f"redriven from the dead-letter queue by an operator (it stopped: {letter.reason})", iso_now()
    )
    # only over the version read (Conflict: a sweep or a worker wrote it meanwhile; redrive again)
    store.write_status(queued, if_match=found.version if found else "", create=found is None)
    queue.send(message)
    purge(store, dead_letters, letter)
    log.info("job %s redriven", letter.job_id)
    return queued


def purge(store: JobStore, dead_letters: JobQueue, letter: DeadLetter) -> None:
    """Drop the dead message and its record; the job stays as it is (failed, after a sweep)."""
    delete_message(dead_letters, letter)
    store.bucket.delete(record_key(letter.job_id))
