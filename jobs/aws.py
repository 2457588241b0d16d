"""boto3 clients built from settings, and the errors adapters raise instead of botocore's.

Adapters catch botocore's exceptions where they call AWS and raise
``ServiceUnavailable`` for anything a retry might fix (S3's reads and writes
also ``NotFound`` and ``Conflict``: jobs/bucket.py), so callers above them
never see botocore types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from jobs.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


class ServiceUnavailable(Exception):
    """S3 or SQS could not do what was asked; trying again later may work."""


class NotFound(Exception):
    """There is no such object."""


class Conflict(Exception):
    """A conditional write or delete lost: the object is not (or no longer) the version it was made on."""


AWS_ERRORS = (BotoCoreError, ClientError)

_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,  # above SQS's 20 s long poll
    signature_version="s3v4",
    s3={"addressing_style": "path"},
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('NoSuchKey', ...), else ''."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def unavailable(what: str, exc: BaseException) -> ServiceUnavailable:
    code = error_code(exc) or type(exc).__name__
    return ServiceUnavailable(f"{what} failed: {code}")


def client_options(settings: AwsSettings) -> dict[str, Any]:
    config = _CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": settings.retries}))
    return {"region_name": settings.region, "endpoint_url": settings.endpoint_url, "config": config}


def s3_client(settings: AwsSettings) -> S3Client:
    # a session per client: boto3's default session is not thread-safe
    return boto3.session.Session().client("s3", **client_options(settings))


def sqs_client(settings: AwsSettings) -> SQSClient:
    return boto3.session.Session().client("sqs", **client_options(settings))


def ec2_client(settings: AwsSettings) -> EC2Client:
    return boto3.session.Session().client("ec2", **client_options(settings))


def ssm_client(settings: AwsSettings) -> SSMClient:
    return boto3.session.Session().client("ssm", **client_options(settings))


def lambda_client(settings: AwsSettings) -> LambdaClient:
    return boto3.session.Session().client("lambda", **client_options(settings))
