"""Local AWS: a moto server on loopback and the resources the system needs.

Used by ``darkroom up`` and by the tests' fixtures, so both run against the
same emulator set up the same way.
"""

from __future__ import annotations

import json
import os
import socket

from moto.server import ThreadedMotoServer

from jobs.aws import s3_client, sqs_client
from jobs.settings import AwsSettings

# moto accepts any credentials; real ones must never reach it.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "darkroom-local", "AWS_SECRET_ACCESS_KEY": "darkroom-local"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def use_emulator_credentials() -> None:
    """Point this process's boto3 at fake credentials (moto checks none)."""
    os.environ.update(EMULATOR_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def start_moto(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """Start moto in server mode on loopback; returns the server and its URL."""
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def create_resources(settings: AwsSettings, visibility_timeout: int = 60, max_receives: int = 3) -> None:
    """The bucket, the job queue and its dead-letter queue, as infra/ declares them."""
    s3 = s3_client(settings)
    s3.create_bucket(Bucket=settings.bucket)
    s3.put_public_access_block(
        Bucket=settings.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    sqs = sqs_client(settings)
    dlq_url = sqs.create_queue(
        QueueName=settings.dead_letter_queue, Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName=settings.queue,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        },
    )
