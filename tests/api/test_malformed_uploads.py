"""Every malformed upload in the corpus gets a 4xx problem+json, and nothing is stored or enqueued."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.settings import ApiSettings
from jobs.settings import AwsSettings
from tests.api.malformed import MALFORMED, Malformed
from tests.support.aws import bucket_keys, queue_messages, s3_of, sqs_of


@pytest.fixture(scope="module")
def corpus_client(module_aws: AwsSettings) -> Iterator[FlaskClient]:
    app = create_app(ApiSettings(aws=module_aws), s3=s3_of(module_aws), sqs=sqs_of(module_aws))
    app.testing = True
    yield app.test_client()


def test_the_corpus_is_large_and_every_case_is_distinct() -> None:
    assert len(MALFORMED) >= 30
    assert len({case.data for case in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize("case", MALFORMED, ids=[case.name for case in MALFORMED])
def test_a_malformed_upload_is_refused_and_leaves_nothing_behind(
    corpus_client: FlaskClient, module_aws: AwsSettings, case: Malformed
) -> None:
    response = corpus_client.post("/v1/jobs", data={"image": (io.BytesIO(case.data), case.filename), "ratio": "auto"})
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"].startswith("urn:darkroom:problem:")
    assert problem["status"] == response.status_code
    assert problem["detail"]
    assert bucket_keys(module_aws) == []
    assert queue_messages(module_aws) == 0
