"""``format`` and ``quality`` on submit: checked before anything is stored, carried to the worker in the message."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from jobs.settings import AwsSettings
from tests.api import samples
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
    "form", [{"format": "webp"}, {"quality": "0"}, {"quality": "high"}, {"format": "tiff16", "quality": "80"}]
)
def test_an_unknown_format_or_quality_is_refused_before_anything_is_stored(
    client: FlaskClient, aws: AwsSettings, form: dict[str, str]
) -> None:
    assert_problem(submit(client, samples.jpeg(), **form), 400, "invalid-output")
    assert bucket_keys(aws) == []
