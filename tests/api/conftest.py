"""Fixtures for the API: the real app on a real moto server, and ways to look inside S3 and SQS."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.settings import ApiSettings
from darkroom.local import free_port
from jobs.aws import s3_client, sqs_client
from jobs.queue import JobQueue
from jobs.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

MakeApp = Callable[..., Flask]


@functools.lru_cache(maxsize=4)
def s3_of(aws: AwsSettings) -> S3Client:
    """One client per test's settings: making a boto3 client costs ~0.2 s of CPU."""
    return s3_client(aws)


@functools.lru_cache(maxsize=4)
def sqs_of(aws: AwsSettings) -> SQSClient:
    return sqs_client(aws)


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


def bucket_keys(aws: AwsSettings) -> list[str]:
    listing = s3_of(aws).list_objects_v2(Bucket=aws.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def queue_messages(aws: AwsSettings) -> int:
    """Messages in the job queue, visible or not."""
    depth = JobQueue.named(sqs_of(aws), aws.queue).depth()
    return depth.visible + depth.in_flight


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
