"""S3 and SQS failing under the worker: it retries with backoff; a job is never lost, never done without its result."""

from __future__ import annotations

import dataclasses
import json

from jobs.aws import s3_client, sqs_client
from jobs.ids import result_key
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobState
from tests.support.faults import Fault, FaultInjector, FaultKind
from tests.worker.conftest import Parts, dark_jpeg


def faulty_parts(aws: AwsSettings, *faults: Fault, retries: int = 1) -> tuple[Parts, FaultInjector]:
    """The worker's clients with faults injected; jobs are submitted through clean clients first.

    One botocore retry instead of the worker's four: what these tests check does not depend on how many,
    and each exhausted call would otherwise sleep through about 7.5 s of backoff.
    """
    aws = dataclasses.replace(aws, retries=retries)
    s3, sqs = s3_client(aws), sqs_client(aws)
    injector = FaultInjector(list(faults))
    injector.attach(s3, sqs)
    return Parts.of(aws, s3, sqs), injector


def test_a_download_that_fails_through_every_retry_is_retried_later_and_the_job_completes(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    faulty, injector = faulty_parts(
        parts.aws, Fault("GetObject", FaultKind.SERVER_ERROR, times=2, url_contains="uploads/")
    )
    faulty.worker().run(max_jobs=2)

    status = parts.status(job_id)
    assert injector.fired["GetObject:server-error"] == 2  # one whole botocore call: a try and its retry
    assert status.state is JobState.DONE and status.attempts == 2, status
    assert parts.store.get(result_key(job_id)) is not None
    assert faulty.enhancer.calls == ["srgb"]
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0


def test_a_result_that_cannot_be_stored_never_reports_done_and_ends_failed_with_the_reason(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    faulty, injector = faulty_parts(parts.aws, Fault("PutObject", FaultKind.THROTTLE, url_contains="results/"))
    faulty.worker().run(max_jobs=1)
    retrying = parts.status(job_id)
    assert retrying.state is JobState.QUEUED and "storage or the queue was unavailable" in str(retrying.note)
    faulty.worker().run(max_jobs=1)  # the test queue dead-letters after 2 receives

    status = parts.status(job_id)
    assert status.state is JobState.FAILED, status
    assert status.error is not None and status.error.code == "gave-up"
    assert "storage or the queue was unavailable" in status.error.message
    for seen in (retrying.public_document() | {"note": retrying.note}, status.public_document()):
        text = json.dumps(seen)  # what a client reads: no bucket, no S3 key, no AWS error code
        assert parts.aws.bucket not in text and "results/" not in text and "SlowDown" not in text
    assert status.result is None and parts.store.get(result_key(job_id)) is None
    assert injector.fired["PutObject:throttle"] == 4  # two attempts, each a try and its retry
    assert parts.queue.depth().in_flight == 0  # handed back: its next receive moves it to the dead-letter queue


def test_a_queue_that_resets_and_times_out_is_absorbed_by_retries(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    faulty, injector = faulty_parts(
        parts.aws,
        Fault("ReceiveMessage", FaultKind.RESET, times=2),
        Fault("DeleteMessage", FaultKind.TIMEOUT, times=2),
        Fault("ChangeMessageVisibility", FaultKind.THROTTLE, times=2),
        retries=4,  # the worker's own: two faults in a row are absorbed
    )
    faulty.worker().run(max_jobs=1)

    assert parts.status(job_id).state is JobState.DONE
    assert injector.fired["ReceiveMessage:reset"] == 2 and injector.fired["DeleteMessage:timeout"] == 2
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0
