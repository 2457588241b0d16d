"""S3 and SQS failing under the API: a 503 with Retry-After, never a 500, and never a message without its upload."""

from __future__ import annotations

import dataclasses
import io

from flask import Flask

from api.app import create_app
from api.settings import API_AWS_RETRIES, ApiSettings
from jobs.aws import s3_client, sqs_client
from jobs.settings import AwsSettings
from tests.api import samples
from tests.support.aws import bucket_keys, queue_messages
from tests.support.faults import Fault, FaultInjector, FaultKind


def faulty_app(aws: AwsSettings, *faults: Fault) -> tuple[Flask, FaultInjector]:
    aws = dataclasses.replace(aws, retries=API_AWS_RETRIES)  # the API's own clients, as from_env makes them
    s3, sqs = s3_client(aws), sqs_client(aws)
    injector = FaultInjector(list(faults))
    injector.attach(s3, sqs)
    app = create_app(ApiSettings(aws=aws), s3=s3, sqs=sqs)
    app.testing = True
    return app, injector


def submit(app: Flask) -> tuple[int, dict[str, str], dict[str, object]]:
    response = app.test_client().post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")})
    return response.status_code, dict(response.headers), response.get_json()


def test_s3_throttling_every_upload_is_a_503_and_nothing_is_enqueued(aws: AwsSettings) -> None:
    app, injector = faulty_app(aws, Fault("PutObject", FaultKind.THROTTLE))
    status, headers, problem = submit(app)
    assert status == 503 and int(headers["Retry-After"]) > 0
    assert problem["type"] == "urn:darkroom:problem:service-unavailable"
    assert injector.fired["PutObject:throttle"] == 1 + API_AWS_RETRIES  # the API fails fast
    assert bucket_keys(aws) == [] and queue_messages(aws) == 0


def test_sqs_failing_after_the_upload_is_stored_removes_the_upload(aws: AwsSettings) -> None:
    app, injector = faulty_app(aws, Fault("SendMessage", FaultKind.SERVER_ERROR))
    status, headers, _ = submit(app)
    assert status == 503 and "Retry-After" in headers
    assert injector.fired["SendMessage:server-error"] == 1 + API_AWS_RETRIES
    assert bucket_keys(aws) == [] and queue_messages(aws) == 0  # the upload and status were written, then removed


def test_a_timeout_on_enqueue_is_retried_and_the_job_is_accepted_once(aws: AwsSettings) -> None:
    app, injector = faulty_app(aws, Fault("SendMessage", FaultKind.TIMEOUT, times=1))
    status, _, job = submit(app)
    assert status == 202, job
    assert injector.fired["SendMessage:timeout"] == 1
    assert queue_messages(aws) == 1
    assert sorted(key.split("/")[0] for key in bucket_keys(aws)) == ["status", "uploads"]


def test_transient_s3_errors_are_absorbed_by_retries(aws: AwsSettings) -> None:
    app, injector = faulty_app(
        aws, Fault("PutObject", FaultKind.RESET, times=1), Fault("PutObject", FaultKind.SERVER_ERROR, times=1)
    )
    status, _, job = submit(app)
    assert status == 202, job
    assert injector.total() == 2 and queue_messages(aws) == 1


def test_a_status_poll_while_s3_fails_is_a_503_not_a_500(aws: AwsSettings) -> None:
    app, injector = faulty_app(aws)
    status, _, job = submit(app)
    assert status == 202
    injector.faults.append(Fault("GetObject", FaultKind.SERVER_ERROR))
    response = app.test_client().get(f"/v1/jobs/{job['id']}")
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert response.mimetype == "application/problem+json"
