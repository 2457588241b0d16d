"""The spot pool end to end, for tests/test_pool_e2e.py and tests/test_chaos.py: pool stacks and ways to watch them.

Every test starts its own pool stack (``darkroom up`` with scaled-down times)
and with it no worker: the API launches them. Resource and pool names are
unique per stack, since moto's state is shared by every server in this process.
Waits are bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import functools
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from PIL import Image

from api.access import new_key
from darkroom.dng import synthetic_dark_dng
from darkroom.local.aws import free_port
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.fleet import Fleet
from darkroom.local.stack import LocalStack
from jobs.aws import ec2_client, s3_client, sqs_client
from jobs.ids import status_key
from jobs.pool import POOL_TAG
from jobs.queue import JobQueue
from jobs.settings import AwsSettings

T = TypeVar("T")
StartStack = Callable[..., LocalStack]

NOTICE_MARGIN_SECONDS = 3.0  # a job must end this long before a spot deadline, else it is handed back
SHORT_NOTICE_SECONDS = 2.5  # shorter than the margin: no job fits, the message goes back at once
LONG_NOTICE_SECONDS = 60.0  # any job here fits
OPERATOR_KEY, OPERATOR_HASH = new_key()  # every pool stack knows it: the tests watch the operator's pool view
OPERATOR = {"X-API-Key": OPERATOR_KEY}


def pool_stacks() -> Iterator[StartStack]:
    """Starts pool stacks (no worker until the API launches one); stops them when closed (a fixture's body)."""
    stacks: list[LocalStack] = []

    def start(
        max_workers: int = 2,
        boot_seconds: float = 1.0,
        idle_seconds: float = 60.0,
        max_receives: int = 3,
        env: dict[str, str] | None = None,
        worker_command: tuple[str, ...] = (),
    ) -> LocalStack:
        suffix = uuid.uuid4().hex[:8]
        config = StackConfig(
            aws=AwsSettings(bucket=f"darkroom-{suffix}", queue=f"jobs-{suffix}", dead_letter_queue=f"dlq-{suffix}"),
            api_port=free_port(),
            moto_port=free_port(),
            method="baseline",  # the stack's behaviour, not a model's: seconds per job on a CPU
            pool=PoolConfig(
                name=f"pool-{suffix}",
                max_workers=max_workers,
                boot_seconds=boot_seconds,
                idle_seconds=idle_seconds,
                worker_command=worker_command,
            ),
            api_processes=2,
            wait_seconds=1,
            lease_seconds=3,  # a killed worker's message is back within 3 s
            max_receives=max_receives,
            extra_env={
                "DARKROOM_DLQ_SWEEP_SECONDS": "0",
                "DARKROOM_RETRY_BASE_SECONDS": "1",
                "DARKROOM_NOTICE_POLL_SECONDS": "0.2",
                "DARKROOM_NOTICE_MARGIN_SECONDS": str(NOTICE_MARGIN_SECONDS),
                "DARKROOM_OPERATOR_KEY_HASHES": OPERATOR_HASH,
                **(env or {}),
            },
        )
        stack = LocalStack(config)
        stacks.append(stack)
        stack.start()
        return stack

    yield start
    for stack in stacks:
        stack.stop()


# -- waiting and asking --------------------------------------------------------


def wait_until(get: Callable[[], T], accept: Callable[[T], bool], what: str, timeout: float = 90.0) -> T:
    """The first value of ``get`` that ``accept`` takes, polling; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not accept(value := get()):
        assert time.monotonic() < deadline, f"never happened: {what} (last seen: {value!r})"
        time.sleep(0.05)
    return value


def eventually(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    wait_until(check, bool, what, timeout)


def fleet_of(stack: LocalStack) -> Fleet:
    assert stack.fleet is not None
    return stack.fleet


def small_jpeg(width: int = 320, height: int = 240) -> bytes:
    """A dark gradient: a job on it takes a fraction of a second."""
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").point(lambda v: v // 20).save(buf, "JPEG")
    return buf.getvalue()


@functools.cache
def slow_dng() -> bytes:
    """12 MP of RAW: seconds of work, long enough to interrupt or kill its worker mid-job."""
    return synthetic_dark_dng(3000, 4000)


def submit(stack: LocalStack, data: bytes, filename: str, ratio: str = "auto") -> dict[str, Any]:
    reply = requests.post(
        f"{stack.config.api_url}/v1/jobs", files={"image": (filename, data)}, data={"ratio": ratio}, timeout=60
    )
    assert reply.status_code == 202, reply.text
    body: dict[str, Any] = reply.json()
    return body


def job(stack: LocalStack, job_id: str) -> dict[str, Any]:
    """The job's status through the API (a waiting job's poll also keeps the pool's capacity up)."""
    reply = requests.get(f"{stack.config.api_url}/v1/jobs/{job_id}", timeout=30)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def job_in(stack: LocalStack, job_id: str, states: set[str], timeout: float = 120.0) -> dict[str, Any]:
    return wait_until(lambda: job(stack, job_id), lambda status: status["status"] in states, f"{states}", timeout)


def processing(stack: LocalStack, job_id: str) -> dict[str, Any]:
    """The job's status once a worker runs it."""
    return job_in(stack, job_id, {"processing"})


def pool(stack: LocalStack) -> dict[str, Any]:
    reply = requests.get(f"{stack.config.api_url}/v1/pool", headers=OPERATOR, timeout=30)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def workers_shown(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(instance id, state) of each worker a pool document shows."""
    return [(worker["instance_id"], worker["state"]) for worker in body["workers"]]


def instances(stack: LocalStack) -> dict[str, str]:
    """Every instance in EC2 with this stack's pool tag: id -> state."""
    assert stack.config.pool is not None
    reply = ec2_client(stack.aws).describe_instances(
        Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [stack.config.pool.name]}]
    )
    return {i["InstanceId"]: i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}


def terminated(stack: LocalStack, instance_id: str) -> bool:
    return instances(stack).get(instance_id) == "terminated"


def result_image(stack: LocalStack, job_id: str) -> Image.Image:
    """The job's result, fetched as a client does (303 to a presigned URL) and decoded."""
    reply = requests.get(f"{stack.config.api_url}/v1/jobs/{job_id}/result", timeout=30)
    assert reply.status_code == 200, reply.text
    image = Image.open(io.BytesIO(reply.content))
    image.load()
    assert image.format == "JPEG"
    return image


def queues_empty(stack: LocalStack) -> bool:
    sqs = sqs_client(stack.aws)
    depths = [JobQueue.named(sqs, name).depth() for name in (stack.aws.queue, stack.aws.dead_letter_queue)]
    return all(depth.visible == depth.in_flight == 0 for depth in depths)


def status_histories(stack: LocalStack, job_ids: list[str]) -> dict[str, tuple[dict[str, dict[str, Any]], str]]:
    """Per job: every stored version of its status document (version id -> document), and the current one's id."""
    s3, bucket = s3_client(stack.aws), stack.aws.bucket
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="status/")
    versions = [(v["Key"], v["VersionId"]) for page in pages for v in page.get("Versions", [])]
    histories = {}
    for job_id in job_ids:
        key = status_key(job_id)
        documents = {
            version: json.loads(s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read())
            for listed, version in versions
            if listed == key
        }
        histories[job_id] = (documents, s3.get_object(Bucket=bucket, Key=key)["VersionId"])
    return histories


def keep_versions(stack: LocalStack) -> None:
    s3_client(stack.aws).put_bucket_versioning(Bucket=stack.aws.bucket, VersioningConfiguration={"Status": "Enabled"})
