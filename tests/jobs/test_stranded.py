"""A job whose submit died between its status and its message is found and sent again, or failed.

Against a real moto server. The API process "dies" by an exception its
submit does not catch, where a killed process would stop: after the status
is written, before the queue has the message.
"""

from __future__ import annotations

import pytest

from jobs.aws import s3_client, sqs_client
from jobs.ids import SENDING_PREFIX, upload_key
from jobs.message import InputKind, JobMessage
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobState
from jobs.store import JobStore
from jobs.submit import resend_stranded, submit_job


class ProcessDied(BaseException):
    """Where the API process was killed."""


class DiesBeforeSending(JobQueue):
    def send(self, message: JobMessage) -> str:
        raise ProcessDied


@pytest.fixture
def store(aws: AwsSettings) -> JobStore:
    return JobStore(s3_client(aws), aws.bucket)


@pytest.fixture
def queue(aws: AwsSettings) -> JobQueue:
    return JobQueue.named(sqs_client(aws), aws.queue)


def stranded_job(store: JobStore, queue: JobQueue) -> str:
    """A job with an upload and a queued status, and nothing in the queue."""
    with pytest.raises(ProcessDied):
        submit_job(
            store, DiesBeforeSending(queue.sqs, queue.url), b"\xff\xd8 jpeg", "jpg", "image/jpeg", InputKind.SRGB, 5.0
        )
    (marker,) = store.bucket.keys(SENDING_PREFIX)
    job_id = marker.removeprefix(SENDING_PREFIX).removesuffix(".json")
    status = store.read_status(job_id)
    assert status is not None and status.state is JobState.QUEUED
    assert queue.depth().visible == 0
    return job_id


def test_a_job_stranded_before_the_queue_is_sent_again_once(store: JobStore, queue: JobQueue) -> None:
    job_id = stranded_job(store, queue)
    assert resend_stranded(store, queue, older_than_seconds=0) == 1
    delivery = queue.receive(wait_seconds=1)
    assert delivery is not None
    message = JobMessage.from_json(delivery.body)
    assert (message.job_id, message.upload_key, message.ratio) == (job_id, upload_key(job_id, "jpg"), 5.0)
    assert store.bucket.keys(SENDING_PREFIX) == []
    assert resend_stranded(store, queue, older_than_seconds=0) == 0  # once


def test_a_stranded_job_whose_upload_is_gone_is_failed(store: JobStore, queue: JobQueue) -> None:
    job_id = stranded_job(store, queue)
    store.bucket.delete(upload_key(job_id, "jpg"))
    assert resend_stranded(store, queue, older_than_seconds=0) == 0
    status = store.read_status(job_id)
    assert status is not None and status.state is JobState.FAILED
    assert status.error is not None and status.error.code == "upload-missing"
    assert queue.depth().visible == 0 and store.bucket.keys(SENDING_PREFIX) == []


def test_a_submit_that_may_still_be_running_is_left_alone(store: JobStore, queue: JobQueue) -> None:
    stranded_job(store, queue)
    assert resend_stranded(store, queue) == 0  # younger than two minutes
    assert queue.depth().visible == 0 and len(store.bucket.keys(SENDING_PREFIX)) == 1


def test_a_submit_that_finished_leaves_nothing_to_resend(store: JobStore, queue: JobQueue) -> None:
    submit_job(store, queue, b"\xff\xd8 jpeg", "jpg", "image/jpeg", InputKind.SRGB, None)
    assert store.bucket.keys(SENDING_PREFIX) == []
    assert resend_stranded(store, queue, older_than_seconds=0) == 0
    assert queue.depth().visible == 1
