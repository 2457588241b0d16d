"""The S3 and SQS adapters against a real moto server."""

from __future__ import annotations

import pytest
import requests

from jobs.aws import Conflict, NotFound, ServiceUnavailable, s3_client, sqs_client
from jobs.bucket import Bucket, Stored
from jobs.ids import new_job_id, upload_key
from jobs.message import InputKind, JobMessage
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobStatus, iso_now
from jobs.store import JobStore


def test_store_round_trips_uploads_and_status(aws: AwsSettings) -> None:
    store = JobStore(s3_client(aws), aws.bucket)
    job_id = new_job_id()
    key = store.put_upload(job_id, "png", b"\x89PNG...", "image/png")
    assert store.get(key) == b"\x89PNG..."
    assert store.read_status(job_id) is None
    status = JobStatus.new(job_id, InputKind.SRGB, None, iso_now())
    store.write_status(status)
    assert store.read_status(job_id) == status
    url = store.bucket.presigned_get(key, expires_in=60)
    assert requests.get(url, timeout=10).content == b"\x89PNG..."
    store.bucket.delete(key)
    assert store.get(key) is None


def test_the_bucket_raises_not_found_and_conflict(aws: AwsSettings) -> None:
    bucket = Bucket(s3_client(aws), aws.bucket)
    with pytest.raises(NotFound):
        bucket.read("pool/none.json")
    assert bucket.find("pool/none.json") is None
    first = bucket.write("pool/one.json", b"1", create=True)
    with pytest.raises(Conflict):
        bucket.write("pool/one.json", b"2", create=True)  # it exists
    second = bucket.write("pool/one.json", b"2", if_match=first)
    assert bucket.read("pool/one.json") == Stored(b"2", second)
    assert bucket.read("pool/one.json", first=1).body == b"2" and bucket.size("pool/one.json") == 1
    with pytest.raises(Conflict):
        bucket.write("pool/one.json", b"3", if_match=first)  # a version that is gone
    with pytest.raises(Conflict):
        bucket.delete("pool/one.json", if_match=first)
    bucket.delete("pool/one.json", if_match=second)
    assert bucket.keys("pool/") == []


def test_queue_sends_receives_extends_and_deletes(aws: AwsSettings) -> None:
    queue = JobQueue.named(sqs_client(aws), aws.queue)
    job_id = new_job_id()
    message = JobMessage(job_id, upload_key(job_id, "jpg"), InputKind.SRGB, 5.0, iso_now())
    queue.send(message)
    assert queue.depth().visible == 1
    delivery = queue.receive(wait_seconds=1)
    assert delivery is not None and JobMessage.from_json(delivery.body) == message
    assert delivery.receive_count == 1
    assert queue.depth().in_flight == 1
    queue.set_visibility(delivery, 0)  # hand back
    again = queue.receive(wait_seconds=1)
    assert again is not None and again.receive_count == 2
    queue.delete(again)
    assert queue.depth().visible == 0 and queue.depth().in_flight == 0
    assert queue.max_receives() == 2


def test_unreachable_services_are_translated(aws: AwsSettings) -> None:
    dead = AwsSettings(endpoint_url="http://127.0.0.1:9", bucket=aws.bucket)
    with pytest.raises(ServiceUnavailable):
        Bucket(s3_client(dead), dead.bucket).check()
    with pytest.raises(ServiceUnavailable):
        JobQueue.named(sqs_client(dead), dead.queue)
