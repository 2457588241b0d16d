"""The tests' AWS clients (one per test's settings) and a spot pool of a test's own in moto."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobs.aws import ec2_client, s3_client, sqs_client, ssm_client
from jobs.pool import POOL_TAG
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from pool.settings import PoolSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


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


def bucket_keys(aws: AwsSettings) -> list[str]:
    listing = s3_of(aws).list_objects_v2(Bucket=aws.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def queue_messages(aws: AwsSettings) -> int:
    """Messages in the job queue, visible or not."""
    depth = JobQueue.named(sqs_of(aws), aws.queue).depth()
    return depth.visible + depth.in_flight


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

    def instances(self) -> list[dict[str, Any]]:
        """Every instance ever launched with this pool's tag, in any state."""
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [self.pool.name]}]
        )
        return [dict(item) for page in pages for group in page["Reservations"] for item in group["Instances"]]
