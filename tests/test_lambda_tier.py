"""The Lambda tier: the local event source mapping against a real moto queue, and the whole stack with
DARKROOM_TIER=lambda (what `DARKROOM_TIER=lambda make run` starts): the handler serves, no instance is launched."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from darkroom.dng import synthetic_dark_dng
from darkroom.local.aws import create_function_switch, free_port
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.event_source import SWITCH_POLL_SECONDS, EventSourceMapping, RemainingTime
from darkroom.local.stack import LocalStack
from jobs.aws import ec2_client, lambda_client, s3_client, sqs_client
from jobs.message import InputKind
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobState
from jobs.store import JobStore
from pool.settings import EventSourceSettings
from pool.switch import LambdaTier
from tests.test_e2e import poll, submit
from tests.worker.conftest import Parts, dark_jpeg
from tests.worker.test_function import function_of


def mapping_of(aws: AwsSettings, **settings: int) -> EventSourceMapping:
    sqs = sqs_client(aws)
    return EventSourceMapping(sqs, JobQueue.named(sqs, aws.queue), EventSourceSettings(**settings), aws.region, 1)


def test_a_batch_is_gathered_in_its_window_and_only_the_reported_failure_stays(aws: AwsSettings) -> None:
    parts = Parts.of(aws)
    for _ in range(3):
        parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    mapping = mapping_of(aws, batch_size=5, batching_window_seconds=2)
    batches: list[list[str]] = []

    def failing_the_second(event: Mapping[str, Any], context: RemainingTime) -> dict[str, Any]:
        records = event["Records"]
        batches.append([r["messageId"] for r in records])
        return {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}

    messages = mapping.receive_batch()
    assert len(messages) == 3  # one invocation for all three, gathered within the window
    assert mapping.invoke(failing_the_second, messages) == [batches[0][1]]
    depth = parts.queue.depth()
    assert (depth.visible, depth.in_flight) == (0, 1)  # the two others were deleted; the failure waits


def test_the_mapping_runs_jobs_through_the_handler_at_most_its_concurrency_at_once(aws: AwsSettings) -> None:
    parts = Parts.of(aws)
    ids = [parts.submit(dark_jpeg(), "jpg", InputKind.SRGB) for _ in range(4)]
    mapping = mapping_of(aws, batch_size=1, max_concurrency=2)
    functions = [function_of(parts) for _ in range(2)]
    thread = threading.Thread(target=mapping.run, args=([f.handle for f in functions],), daemon=True)
    thread.start()
    for job_id in ids:
        for _ in range(600):
            if parts.status(job_id).state is JobState.DONE:
                break
            threading.Event().wait(0.1)
    mapping.stopping.set()
    thread.join()
    assert [parts.status(job_id).state for job_id in ids] == [JobState.DONE] * 4
    assert mapping.invocations == 4 and sum(f.runner.done for f in functions) == 4
    assert parts.queue.depth().visible + parts.queue.depth().in_flight == 0


def test_a_disabled_mapping_receives_nothing_until_the_api_enables_it_again(aws: AwsSettings) -> None:
    """DARKROOM_TIER=auto locally: the poller obeys the mapping's Enabled state in moto, read through the
    API's own adapter, so the switch is the same code path as on AWS."""
    parts = Parts.of(aws)
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    switch = LambdaTier(lambda_client(aws), create_function_switch(aws, f"fn-{aws.queue}", enabled=False))
    sqs = sqs_client(aws)
    mapping = EventSourceMapping(sqs, JobQueue.named(sqs, aws.queue), EventSourceSettings(), aws.region, 1, switch)
    received: list[str] = []

    def handler(event: Mapping[str, Any], context: RemainingTime) -> dict[str, Any]:
        received.extend(record["messageId"] for record in event["Records"])
        return {"batchItemFailures": []}

    thread = threading.Thread(target=mapping.run, args=([handler, handler],), daemon=True)
    thread.start()
    threading.Event().wait(2 * SWITCH_POLL_SECONDS + 0.5)  # each poller has looked at the switch twice
    assert (mapping.invocations, parts.queue.depth().visible) == (0, 1)
    switch.turn(True)
    for _ in range(100):
        if received:
            break
        threading.Event().wait(0.1)
    mapping.stopping.set()
    thread.join()
    assert mapping.invocations == 1 and len(received) == 1
    assert parts.queue.depth().visible + parts.queue.depth().in_flight == 0


def own_names_config(tier: str, boot_seconds: float = 2.0, **overrides: Any) -> StackConfig:
    """A stack whose bucket, queues, pool and template names are its own: moto's state is one per process,
    and another test's stack may already hold the default names."""
    suffix = uuid.uuid4().hex[:8]
    pool = PoolConfig(
        name=f"pool-{suffix}",
        launch_template=f"darkroom-{suffix}",
        ami_parameter=f"/darkroom-{suffix}/ami",
        boot_seconds=boot_seconds,
    )
    return StackConfig(
        aws=AwsSettings(bucket=f"darkroom-{suffix}", queue=f"jobs-{suffix}", dead_letter_queue=f"dlq-{suffix}"),
        api_port=free_port(),
        moto_port=free_port(),
        method="baseline",
        tier=tier,
        pool=pool,
        api_processes=2,
        wait_seconds=1,
        **overrides,
    )


@pytest.fixture(scope="module")
def lambda_stack() -> Iterator[LocalStack]:
    stack = LocalStack(own_names_config("lambda", from_template=True))  # as `darkroom up` deploys it
    stack.start()
    yield stack
    stack.stop()


@pytest.mark.slow
def test_with_the_lambda_tier_the_handler_serves_a_job_and_no_instance_is_launched(lambda_stack: LocalStack) -> None:
    before = instance_ids(lambda_stack.aws)  # moto's state is shared by the session's servers
    job = submit(lambda_stack, synthetic_dark_dng(256, 384), "dark.dng")
    status = poll(lambda_stack, job["id"], {"done", "failed"})
    assert status["status"] == "done", status
    stored = JobStore(s3_client(lambda_stack.aws), lambda_stack.aws.bucket).read_status(job["id"])
    assert stored is not None and stored.worker == "lambda:local"  # the handler, not a worker process
    pool = requests.get(f"{lambda_stack.config.api_url}/v1/pool", timeout=10).json()
    assert (pool["tier"], pool["enabled"], pool["workers"]) == ("lambda", False, [])
    assert instance_ids(lambda_stack.aws) == before


def instance_ids(aws: AwsSettings) -> set[str]:
    reservations = ec2_client(aws).describe_instances()["Reservations"]
    return {i["InstanceId"] for r in reservations for i in r["Instances"]}


@pytest.mark.slow
def test_with_auto_the_handler_serves_quiet_traffic_and_spot_workers_serve_once_arrivals_pass() -> None:
    """`darkroom up --tier auto`: the API's timer counts submits and disables the mapping at 3 an hour; the
    local poller then receives nothing and the job after is run by a spot worker the API launched."""
    config = own_names_config(
        "auto", boot_seconds=0.5, extra_env={"DARKROOM_AUTO_POOL_PER_HOUR": "3", "DARKROOM_TICK_SECONDS": "0.5"}
    )
    stack = LocalStack(config)
    stack.start()
    try:
        first = poll(stack, submit(stack, dark_jpeg(), "dark.jpg")["id"], {"done", "failed"})
        assert (first["status"], worker_of(stack, first["id"])) == ("done", "lambda:local")
        for _ in range(2):  # the third arrival this hour: the timer hands the queue to the pool
            poll(stack, submit(stack, dark_jpeg(), "dark.jpg")["id"], {"done", "failed"})
        assert serving_soon(stack, "pool")
        time.sleep(config.wait_seconds + 0.5)  # a long poll the local mapping began before the switch ends empty
        last = poll(stack, submit(stack, dark_jpeg(), "dark.jpg")["id"], {"done", "failed"})
        assert last["status"] == "done" and worker_of(stack, last["id"]).startswith("i-")  # a spot worker
    finally:
        stack.stop()


def worker_of(stack: LocalStack, job_id: str) -> str:
    stored = JobStore(s3_client(stack.aws), stack.aws.bucket).read_status(job_id)
    assert stored is not None and stored.worker is not None
    return stored.worker


def serving_soon(stack: LocalStack, tier: str, within: float = 30.0) -> bool:
    """Whether /v1/pool says ``tier`` serves within ``within`` seconds (the timer ticks every half second)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if requests.get(f"{stack.config.api_url}/v1/pool", timeout=10).json()["serving"] == tier:
            return True
        time.sleep(0.2)
    return False
