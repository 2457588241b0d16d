"""/v1/jobs through Flask's test client against a real moto server."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from jobs.ids import is_job_id, new_job_id
from jobs.message import InputKind, JobMessage
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobError, JobResult, JobState, JobStatus, iso_now
from jobs.store import JobStore
from tests.api import samples
from tests.api.conftest import MakeApp, unreachable_app
from tests.support.aws import bucket_keys, queue_messages, s3_of, sqs_of

PROBLEM = "application/problem+json"


def submit(client: FlaskClient, data: bytes | None, filename: str = "photo.jpg", **form: str) -> TestResponse:
    fields: dict[str, Any] = dict(form)
    if data is not None:
        fields["image"] = (io.BytesIO(data), filename)
    return client.post("/v1/jobs", data=fields, content_type="multipart/form-data")


def assert_problem(response: TestResponse, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"urn:darkroom:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return dict(body)


def only_message(aws: AwsSettings) -> JobMessage:
    queue = JobQueue.named(sqs_of(aws), aws.queue)
    delivery = queue.receive(wait_seconds=0)
    assert delivery is not None
    assert queue.receive(wait_seconds=0) is None, "exactly one message"
    return JobMessage.from_json(delivery.body)


@pytest.mark.parametrize(
    ("data", "filename", "kind", "ext", "content_type"),
    [
        (samples.jpeg(), "night.jpg", InputKind.SRGB, "jpg", "image/jpeg"),
        (samples.dng(), "night.dng", InputKind.RAW, "dng", "image/x-adobe-dng"),
        (samples.dng(), "named-wrongly.jpg", InputKind.RAW, "dng", "image/x-adobe-dng"),
    ],
)
def test_submission_stores_upload_and_status_and_enqueues_one_message(
    client: FlaskClient, aws: AwsSettings, data: bytes, filename: str, kind: InputKind, ext: str, content_type: str
) -> None:
    response = submit(client, data, filename, ratio="100")
    assert response.status_code == 202
    body = response.get_json()
    job_id = body["id"]
    assert is_job_id(job_id)
    assert body["status"] == "queued" and body["eta_seconds"] >= 1
    assert body["links"] == {"self": f"/v1/jobs/{job_id}", "result": f"/v1/jobs/{job_id}/result"}
    assert response.headers["Location"] == f"/v1/jobs/{job_id}"

    upload_key = f"uploads/{job_id}.{ext}"
    assert bucket_keys(aws) == sorted([upload_key, f"status/{job_id}.json"])
    stored = s3_of(aws).get_object(Bucket=aws.bucket, Key=upload_key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == content_type

    status = JobStore(s3_of(aws), aws.bucket).read_status(job_id)
    assert status is not None
    assert (status.state, status.kind, status.ratio) == (JobState.QUEUED, kind, 100.0)

    message = only_message(aws)
    assert (message.job_id, message.upload_key, message.kind, message.ratio) == (job_id, upload_key, kind, 100.0)


def test_ratio_defaults_to_auto(client: FlaskClient, aws: AwsSettings) -> None:
    for form in ({}, {"ratio": "auto"}):
        assert submit(client, samples.png(), "x.png", **form).status_code == 202
        assert only_message(aws).ratio is None


def test_submission_is_logged_with_id_kind_and_size(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    data = samples.dng()
    with caplog.at_level(logging.INFO, logger="api"):
        job_id = submit(client, data, "x.dng").get_json()["id"]
    assert any(job_id in r.message and "raw" in r.message and str(len(data)) in r.message for r in caplog.records)


BAD_INPUTS = [
    pytest.param(samples.jpeg()[:-600], {}, 422, "corrupt-image", id="truncated-jpeg"),
    pytest.param(b"Dear diary, it was dark.\n", {}, 415, "unsupported-media-type", id="text-named-jpg"),
    pytest.param(samples.png_declaring(100_000, 100_000), {}, 422, "too-many-pixels", id="png-bomb"),
    pytest.param(b"", {}, 400, "empty-upload", id="empty-file"),
    pytest.param(None, {}, 400, "missing-image", id="missing-field"),
    pytest.param(samples.jpeg(), {"ratio": "abc"}, 400, "invalid-ratio", id="ratio-abc"),
    pytest.param(samples.jpeg(), {"ratio": "0"}, 400, "invalid-ratio", id="ratio-0"),
    pytest.param(samples.jpeg(), {"ratio": "301"}, 400, "invalid-ratio", id="ratio-301"),
    pytest.param(samples.jpeg(), {"ratio": "nan"}, 400, "invalid-ratio", id="ratio-nan"),
]


@pytest.mark.parametrize(("data", "form", "status", "slug"), BAD_INPUTS)
def test_bad_input_is_a_problem_and_leaves_nothing_behind(
    client: FlaskClient, aws: AwsSettings, data: bytes | None, form: dict[str, str], status: int, slug: str
) -> None:
    assert_problem(submit(client, data, "photo.jpg", **form), status, slug)
    assert bucket_keys(aws) == []
    assert queue_messages(aws) == 0


def test_body_without_multipart_is_missing_image(client: FlaskClient, aws: AwsSettings) -> None:
    assert_problem(client.post("/v1/jobs", data=b"", content_type="application/octet-stream"), 400, "missing-image")
    assert bucket_keys(aws) == []


def test_chunked_body_without_length_is_411() -> None:
    """uWSGI gives the app no body for a chunked request; the client is told to send a length."""
    client = unreachable_app().test_client()
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": "multipart/form-data; boundary=x"}
    assert_problem(client.post("/v1/jobs", environ_overrides=environ), 411, "length-required")


def test_oversize_body_is_413_and_leaves_nothing_behind(make_app: MakeApp, aws: AwsSettings) -> None:
    client = make_app(max_upload_bytes=8_000).test_client()
    data = samples.jpeg(200, 150)
    assert len(data) > 8_000
    problem = assert_problem(submit(client, data), 413, "content-too-large")
    assert "8,000 bytes" in problem["detail"]
    assert bucket_keys(aws) == []
    assert queue_messages(aws) == 0


def test_queue_failure_is_503_and_removes_what_was_written(client: FlaskClient, aws: AwsSettings) -> None:
    assert client.get("/readyz").status_code == 200  # the app has found its queue
    sqs = sqs_of(aws)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=aws.queue)["QueueUrl"])
    response = submit(client, samples.jpeg())
    assert_problem(response, 503, "service-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert bucket_keys(aws) == []


@pytest.mark.parametrize(
    "job_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "2f1c1a5e-6d5b-11ee-b962-0242ac120002", "A" * 300]
)
def test_malformed_id_is_404(client: FlaskClient, job_id: str) -> None:
    assert_problem(client.get(f"/v1/jobs/{job_id}"), 404, "job-not-found")
    assert_problem(client.get(f"/v1/jobs/{job_id}/result"), 404, "job-not-found")


def test_malformed_id_is_refused_before_any_aws_call() -> None:
    client = unreachable_app().test_client()  # any S3 call would make this a 503
    assert_problem(client.get("/v1/jobs/not-a-uuid"), 404, "job-not-found")
    assert_problem(client.get(f"/v1/jobs/{new_job_id()}"), 503, "service-unavailable")


def test_invalid_upload_is_refused_before_any_aws_call() -> None:
    client = unreachable_app().test_client()
    assert_problem(submit(client, b"plain text"), 415, "unsupported-media-type")
    assert_problem(submit(client, samples.jpeg()), 503, "service-unavailable")


def test_unknown_job_is_404(client: FlaskClient) -> None:
    job_id = new_job_id()
    assert_problem(client.get(f"/v1/jobs/{job_id}"), 404, "job-not-found")
    assert_problem(client.get(f"/v1/jobs/{job_id}/result"), 404, "job-not-found")


def test_queued_job_reads_back_with_retry_after(client: FlaskClient) -> None:
    job_id = submit(client, samples.jpeg(), ratio="42.5").get_json()["id"]
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200
    assert 1 <= int(response.headers["Retry-After"]) <= 5
    body = response.get_json()
    assert body["id"] == job_id
    assert (body["status"], body["kind"], body["ratio"], body["attempts"]) == ("queued", "srgb", 42.5, 0)
    assert body["created_at"] == body["updated_at"] == body["stages"]["queued"]
    assert body["eta_seconds"] >= 1
    assert body["result"] is None and body["error"] is None
    expected = {"ratio_used", "method", "note"}
    assert expected <= set(body) and all(body[k] is None for k in expected)


def test_result_of_a_queued_job_is_409_not_ready(client: FlaskClient) -> None:
    job_id = submit(client, samples.jpeg()).get_json()["id"]
    response = client.get(f"/v1/jobs/{job_id}/result")
    assert_problem(response, 409, "not-ready")
    assert int(response.headers["Retry-After"]) >= 1


def write_status(aws: AwsSettings, status: JobStatus) -> JobStore:
    store = JobStore(s3_of(aws), aws.bucket)
    store.write_status(status)
    return store


def test_processing_job_has_retry_after_and_eta(client: FlaskClient, aws: AwsSettings) -> None:
    job_id = new_job_id()
    write_status(aws, JobStatus.new(job_id, InputKind.RAW, None, iso_now()).processing("w-1", 1, iso_now()))
    response = client.get(f"/v1/jobs/{job_id}")
    body = response.get_json()
    assert (body["status"], body["attempts"], body["ratio"]) == ("processing", 1, "auto")
    assert body["eta_seconds"] >= 1
    assert "Retry-After" in response.headers


def test_done_job_links_a_presigned_result(app: Flask, client: FlaskClient, aws: AwsSettings) -> None:
    job_id = new_job_id()
    queued = JobStatus.new(job_id, InputKind.RAW, None, iso_now())
    store = write_status(aws, queued)
    key = store.put_result(job_id, samples.jpeg())
    done = queued.processing("w-1", 1, iso_now()).done(JobResult(key, 96, 64, 1234), 87.5, "baseline", {}, iso_now())
    store.write_status(done)

    response = client.get(f"/v1/jobs/{job_id}")
    assert "Retry-After" not in response.headers
    body = response.get_json()
    assert (body["status"], body["eta_seconds"], body["ratio_used"], body["method"]) == ("done", 0, 87.5, "baseline")
    result = body["result"]
    assert (result["width"], result["height"], result["bytes"]) == (96, 64, 1234)
    assert "X-Amz-Expires=600" in result["url"]
    assert requests.get(result["url"], timeout=10).content == samples.jpeg()

    redirect = client.get(f"/v1/jobs/{job_id}/result")
    assert redirect.status_code == 303
    assert requests.get(redirect.headers["Location"], timeout=10).content == samples.jpeg()


def test_failed_job_shows_its_error_and_its_result_is_409(client: FlaskClient, aws: AwsSettings) -> None:
    job_id = new_job_id()
    queued = JobStatus.new(job_id, InputKind.SRGB, 10.0, iso_now())
    write_status(aws, queued.failed(JobError("corrupt-input", "the JPEG could not be decoded"), iso_now()))
    body = client.get(f"/v1/jobs/{job_id}").get_json()
    assert body["error"] == {"code": "corrupt-input", "message": "the JPEG could not be decoded"}
    problem = assert_problem(client.get(f"/v1/jobs/{job_id}/result"), 409, "job-failed")
    assert problem["error"]["code"] == "corrupt-input"
