"""``format`` and ``quality`` on submit, multipart or JSON (a direct upload): checked before anything is stored or
looked at, carried to the worker in the message."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from api.openapi import DOCUMENT
from jobs.outputs import FORMATS
from jobs.settings import AwsSettings
from tests.api import samples
from tests.api.conftest import post_to_storage, sign
from tests.api.test_jobs import assert_problem, submit
from tests.support.aws import bucket_keys, sqs_of


def sent_options(aws: AwsSettings) -> dict[str, object]:
    sqs = sqs_of(aws)
    url = sqs.get_queue_url(QueueName=aws.queue)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    options: dict[str, object] = json.loads(message["Body"])["options"]
    return options


@pytest.mark.parametrize(
    ("form", "outputs", "quality"),
    [({}, ["jpeg"], 92), ({"quality": "70"}, ["jpeg"], 70), ({"format": "png16"}, ["png16"], 92)],
)
def test_the_format_reaches_the_worker(
    client: FlaskClient, aws: AwsSettings, form: dict[str, str], outputs: list[str], quality: int
) -> None:
    assert submit(client, samples.jpeg(), **form).status_code == 202
    options = sent_options(aws)
    assert (options["outputs"], options["quality"]) == (outputs, quality)


@pytest.mark.parametrize(
    "form",
    [
        {"format": "webp"},
        {"quality": "0"},
        {"quality": "high"},
        {"quality": "\u00b2"},
        {"format": "tiff16", "quality": "80"},
    ],
)
def test_an_unknown_format_or_quality_is_refused_before_anything_is_stored(
    client: FlaskClient, aws: AwsSettings, form: dict[str, str]
) -> None:
    assert_problem(submit(client, samples.jpeg(), **form), 400, "invalid-output")
    assert bucket_keys(aws) == []


def direct_upload(client: FlaskClient) -> str:
    """A PNG sent straight to storage (a presigned POST to moto): its upload id."""
    data = samples.png()
    upload = sign(client, "night.png", len(data))
    post_to_storage(upload, data)
    return str(upload["id"])


@pytest.mark.parametrize(
    ("body", "outputs", "quality"),
    [
        ({}, ["jpeg"], 92),
        ({"quality": 70}, ["jpeg"], 70),
        ({"format": "jpeg", "quality": "85"}, ["jpeg"], 85),
        ({"format": "tiff16"}, ["tiff16"], 92),
        ({"format": "png16", "ratio": 20}, ["png16"], 92),
    ],
)
def test_a_json_submit_takes_the_format_to_the_worker(
    client: FlaskClient, aws: AwsSettings, body: dict[str, object], outputs: list[str], quality: int
) -> None:
    upload_id = direct_upload(client)
    reply = client.post("/v1/jobs", json={"upload_id": upload_id, **body})
    assert reply.status_code == 202, reply.get_json()
    options = sent_options(aws)
    assert (options["outputs"], options["quality"]) == (outputs, quality)


@pytest.mark.parametrize(
    "body",
    [
        {"format": "webp"},
        {"format": ["png16"]},
        {"format": {"name": "png16"}},
        {"format": None, "quality": 0},
        {"quality": True},
        {"quality": 80.5},
        {"quality": "high"},
        {"format": "tiff16", "quality": 80},
    ],
)
def test_a_json_submit_with_a_bad_format_or_quality_is_refused_and_its_upload_kept(
    client: FlaskClient, aws: AwsSettings, body: dict[str, object]
) -> None:
    upload_id = direct_upload(client)
    stored = bucket_keys(aws)
    reply = client.post("/v1/jobs", json={"upload_id": upload_id, **body})
    assert_problem(reply, 400, "invalid-output")
    assert bucket_keys(aws) == stored  # nothing queued, nothing deleted: the same upload can be submitted again
    assert client.post("/v1/jobs", json={"upload_id": upload_id, "format": "png16"}).status_code == 202


def test_both_submit_bodies_document_the_output_choices_the_schema_fuzz_then_sends() -> None:
    bodies = DOCUMENT["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    form = bodies["multipart/form-data"]["schema"]["properties"]
    json_body = bodies["application/json"]["schema"]["properties"]
    assert form["format"]["enum"] == json_body["format"]["enum"] == list(FORMATS)
    assert (json_body["quality"]["minimum"], json_body["quality"]["maximum"]) == (1, 100)
