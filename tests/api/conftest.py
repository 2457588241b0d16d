"""Fixtures for the API: the real app on a real moto server, and ways to look inside S3 and SQS."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from botocore.config import Config
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.capacity.settings import PoolSettings
from api.settings import ApiSettings
from darkroom.local import create_pool_resources, free_port
from jobs.aws import ec2_client, s3_client, sqs_client, ssm_client
from jobs.pool import POOL_TAG
from jobs.queue import JobQueue
from jobs.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

MakeApp = Callable[..., Flask]


@functools.lru_cache(maxsize=4)
def s3_of(aws: AwsSettings) -> S3Client:
    """One client per test's settings: making a boto3 client costs ~0.2 s of CPU."""
    return s3_client(aws)


@functools.lru_cache(maxsize=4)
def sqs_of(aws: AwsSettings) -> SQSClient:
    return sqs_client(aws)


@functools.lru_cache(maxsize=4)
def ec2_of(aws: AwsSettings) -> EC2Client:
    return ec2_client(aws)


@functools.lru_cache(maxsize=4)
def ssm_of(aws: AwsSettings) -> SSMClient:
    return ssm_client(aws)


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


@dataclass(frozen=True)
class PoolWorld:
    """A spot pool of this test's own in moto: its launch template, AMI parameter and subnets."""

    aws: AwsSettings
    pool: PoolSettings
    ami: str

    @property
    def ec2(self) -> EC2Client:
        return ec2_of(self.aws)

    @property
    def ssm(self) -> SSMClient:
        return ssm_of(self.aws)

    def app(self, **pool_overrides: object) -> Flask:
        """The app with this pool enabled; keyword arguments override PoolSettings fields."""
        pool = dataclasses.replace(self.pool, **pool_overrides)  # type: ignore[arg-type]
        settings = ApiSettings(aws=self.aws, pool=pool)
        app = create_app(settings, s3=s3_of(self.aws), sqs=sqs_of(self.aws), ec2=self.ec2, ssm=self.ssm)
        app.testing = True
        return app

    def instances(self) -> list[dict[str, Any]]:
        """Every instance ever launched with this pool's tag, in any state."""
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [self.pool.name]}]
        )
        return [dict(item) for page in pages for group in page["Reservations"] for item in group["Instances"]]


@pytest.fixture
def pool_world(aws: AwsSettings) -> Iterator[PoolWorld]:
    """The local stack's pool resources (darkroom.local), under names of this test's own."""
    suffix = aws.bucket.rsplit("-", 1)[-1]  # moto's EC2 and SSM are shared by the session: names of our own
    made = create_pool_resources(aws, f"darkroom-worker-{suffix}", f"/darkroom/worker-ami-{suffix}")
    pool = PoolSettings(
        enabled=True,
        name=f"pool-{suffix}",
        launch_template=made.launch_template,
        ami_parameter=made.ami_parameter,
        subnets=made.subnets[:2],
    )
    yield PoolWorld(aws, pool, made.ami_id)  # the aws fixture removes the pool's lock and limit files


def sign(client: FlaskClient, filename: str, size: int) -> dict[str, Any]:
    reply = client.post("/v1/uploads", json={"filename": filename, "size": size})
    assert reply.status_code == 201, reply.get_json()
    body: dict[str, Any] = reply.get_json()
    return body


def post_to_storage(upload: dict[str, Any], data: bytes, filename: str = "photo") -> None:
    """What the browser does: a multipart form POST of the fields, then the file, to the presigned URL."""
    reply = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=10)
    assert reply.status_code in (200, 201, 204), reply.text
