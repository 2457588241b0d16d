"""Fixtures for the API: the real app on a real moto server, and ways to look inside S3 and SQS."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from flask import Flask
from flask.testing import FlaskClient

from api.access import AccessSettings, new_key
from api.app import create_app
from api.settings import ApiSettings
from darkroom.local.aws import free_port
from jobs.settings import AwsSettings
from tests.support.aws import PoolWorld, s3_of, sqs_of

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(aws: AwsSettings) -> MakeApp:
    """create_app with this test's bucket and queue; keyword arguments override ApiSettings fields.

    The app gets the tests' cached clients; test_health checks that it makes its own.
    """

    def make(**overrides: object) -> Flask:
        app = create_app(ApiSettings(aws=aws, **overrides), s3=s3_of(aws), sqs=sqs_of(aws))  # type: ignore[arg-type]
        app.testing = True
        return app

    return make


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


IMPATIENT = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 1})


def unreachable() -> AwsSettings:
    return AwsSettings(endpoint_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there


def unreachable_app() -> Flask:
    """An app whose S3 and SQS are a closed port, with clients that give up after one quick try."""
    aws = unreachable()
    session = boto3.session.Session()
    s3 = session.client("s3", region_name=aws.region, endpoint_url=aws.endpoint_url, config=IMPATIENT)
    sqs = session.client("sqs", region_name=aws.region, endpoint_url=aws.endpoint_url, config=IMPATIENT)
    return create_app(ApiSettings(aws=aws), s3=s3, sqs=sqs)


OPERATOR_KEY, OPERATOR_HASH = new_key()
OPERATOR = {"X-API-Key": OPERATOR_KEY}  # the headers of a request with the operator key


def pool_app(world: PoolWorld, access: AccessSettings | None = None, **pool_overrides: object) -> Flask:
    """The app with the world's pool enabled; keyword arguments override PoolSettings fields.

    Its access settings know ``OPERATOR_KEY`` as an operator key unless ``access`` is given.
    """
    pool = dataclasses.replace(world.pool, **pool_overrides)  # type: ignore[arg-type]
    access = access or AccessSettings(operator_key_hashes=(OPERATOR_HASH,))
    settings = ApiSettings(aws=world.aws, pool=pool, access=access)
    app = create_app(settings, s3=s3_of(world.aws), sqs=sqs_of(world.aws), ec2=world.ec2, ssm=world.ssm)
    app.testing = True
    return app


def sign(client: FlaskClient, filename: str, size: int) -> dict[str, Any]:
    reply = client.post("/v1/uploads", json={"filename": filename, "size": size})
    assert reply.status_code == 201, reply.get_json()
    body: dict[str, Any] = reply.get_json()
    return body


def post_to_storage(upload: dict[str, Any], data: bytes, filename: str = "photo") -> None:
    """What the browser does: a multipart form POST of the fields, then the file, to the presigned URL."""
    reply = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=10)
    assert reply.status_code in (200, 201, 204), reply.text
