"""/v1/warm, /v1/pool and a waiting job's honest status, through Flask's test client against moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
from flask.testing import FlaskClient

from api.app import create_app
from api.settings import ApiSettings
from jobs.pool import WorkerRecord, WorkerState
from jobs.settings import AwsSettings
from jobs.status import iso_now
from jobs.store import JobStore
from pool.book import LAST_LAUNCH_KEY
from pool.lock import lock_path
from tests.api import samples
from tests.api.conftest import IMPATIENT, OPERATOR, pool_app, unreachable
from tests.api.test_jobs import assert_problem, submit
from tests.support.aws import PoolWorld, s3_of, sqs_of

PROBLEM = "application/problem+json"


def no_spot_capacity(params: dict[str, Any], **_: Any) -> Any:
    """An instant fleet's answer when spot has no room: no instances, the error in the reply."""
    if params["body"].get("TargetCapacitySpecification.DefaultTargetCapacityType") != "spot":
        return None
    error = {"ErrorCode": "InsufficientInstanceCapacity", "ErrorMessage": "No Spot capacity for g6.xlarge."}

    class Ok:
        status_code = 200
        headers: dict[str, str] = {}

    return Ok(), {"Instances": [], "Errors": [error]}


def test_warm_starts_one_worker_and_answers_with_the_pool(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world).test_client()
    response = client.post("/v1/warm", headers=OPERATOR)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["enabled"], body["max_workers"]) == (pool_world.pool.name, True, 3)
    (worker,) = body["workers"]
    (instance,) = pool_world.instances()
    assert (worker["instance_id"], worker["state"], worker["lifecycle"]) == (instance["InstanceId"], "booting", "spot")
    assert worker["instance_type"] == "g6.xlarge" and worker["since"] == worker["launched_at"]
    assert body["queue"] == {"visible": 0, "in_flight": 0, "dead_letter": 0}
    assert client.post("/v1/warm").status_code == 200
    assert len(pool_world.instances()) == 1


def test_warm_is_rate_limited_per_client(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, warm_per_minute=2).test_client()
    assert [client.post("/v1/warm").status_code for _ in range(2)] == [200, 200]
    problem = assert_problem(client.post("/v1/warm"), 429, "too-many-requests")
    assert "2 warm requests a minute" in problem["detail"]
    other = client.post("/v1/warm", environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200  # another client has its own allowance
    limited = client.post("/v1/warm")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_pool_shows_the_queue_the_dead_letters_and_each_workers_state(pool_world: PoolWorld) -> None:
    aws = pool_world.aws
    client = pool_app(pool_world, jobs_per_worker=1).test_client()
    for _ in range(4):
        assert submit(client, samples.jpeg()).status_code == 202
    sqs = sqs_of(aws)
    dlq = sqs.get_queue_url(QueueName=aws.dead_letter_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="a job that failed three times")
    queue = sqs.get_queue_url(QueueName=aws.queue)["QueueUrl"]
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=30)  # one taken by a worker

    ids = sorted(item["InstanceId"] for item in pool_world.instances())
    assert len(ids) == 3
    store, now = JobStore(s3_of(aws), aws.bucket), iso_now()
    store.write_worker(WorkerRecord(ids[0], WorkerState.READY, now, now, ready_at=now))
    store.write_worker(WorkerRecord(ids[1], WorkerState.BUSY, now, now, ready_at=now, job_id="job-7"))
    body = client.get("/v1/pool", headers=OPERATOR).get_json()
    assert body["queue"] == {"visible": 3, "in_flight": 1, "dead_letter": 1}
    states = {worker["instance_id"]: (worker["state"], worker["job_id"]) for worker in body["workers"]}
    assert states == {ids[0]: ("ready", None), ids[1]: ("busy", "job-7"), ids[2]: ("booting", None)}
    assert body["last_launch"]["error"] is None

    store.write_worker(WorkerRecord(ids[0], WorkerState.DRAINING, now, now, ready_at=now, reason="spot interruption"))
    shown = client.get("/v1/pool", headers=OPERATOR).get_json()["workers"]
    drained = {w["instance_id"]: (w["state"], w["reason"]) for w in shown}
    assert drained[ids[0]] == ("draining", "spot interruption")


def test_the_public_pool_shows_no_job_id_instance_id_or_ec2_error(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world).test_client()
    job_id = submit(client, samples.jpeg()).get_json()["id"]
    (instance,) = pool_world.instances()
    now, store = iso_now(), JobStore(s3_of(pool_world.aws), pool_world.aws.bucket)
    store.write_worker(WorkerRecord(instance["InstanceId"], WorkerState.BUSY, now, now, ready_at=now, job_id=job_id))
    store.bucket.write(
        LAST_LAUNCH_KEY,
        b'{"at":"2026-01-01T00:00:00Z","error":"UnauthorizedOperation: arn:aws:iam::123456789012:role/x"}',
    )
    for public in (client.post("/v1/warm"), client.get("/v1/pool")):
        text = public.get_data(as_text=True)
        assert public.status_code == 200 and public.get_json()["workers"][0]["state"] == "busy"
        assert job_id not in text and instance["InstanceId"] not in text
        assert "123456789012" not in text and "Unauthorized" not in text
        assert public.get_json()["last_launch"]["error"].startswith("cannot launch a worker")
    operator = client.get("/v1/pool", headers=OPERATOR).get_data(as_text=True)
    assert job_id in operator and instance["InstanceId"] in operator and "123456789012" in operator


def test_a_submit_starts_a_worker_and_the_waiting_job_says_so(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, boot_seconds_estimate=90).test_client()
    accepted = submit(client, samples.jpeg())
    assert accepted.status_code == 202
    body = accepted.get_json()
    assert body["note"].startswith("starting a worker (booting for ")
    assert body["eta_seconds"] >= 80  # most of a boot, then the job itself
    assert len(pool_world.instances()) == 1

    polled = client.get(f"/v1/jobs/{body['id']}")
    job = polled.get_json()
    assert job["status"] == "queued"
    assert job["note"].startswith("starting a worker (booting for ")
    assert job["eta_seconds"] >= 80
    assert int(polled.headers["Retry-After"]) == 15  # half the ETA, at most 15 s


def test_without_capacity_or_fallback_the_waiting_job_says_why(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, on_demand_fallback=False).test_client()
    pool_world.ec2.meta.events.register("before-call.ec2.CreateFleet", no_spot_capacity)
    try:
        job_id = submit(client, samples.jpeg()).get_json()["id"]
        job = client.get(f"/v1/jobs/{job_id}").get_json()
    finally:
        pool_world.ec2.meta.events.unregister("before-call.ec2.CreateFleet", no_spot_capacity)
    assert job["status"] == "queued"
    assert job["note"] == "no capacity: EC2 has no room for the pool's instance types right now"
    assert pool_world.instances() == []
    operator = client.get("/v1/pool", headers=OPERATOR).get_json()
    assert operator["last_launch"]["error"].startswith("InsufficientInstanceCapacity")
    assert client.get("/v1/pool").get_json()["last_launch"]["error"] == job["note"]


def test_with_fallback_the_job_gets_an_on_demand_worker(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world).test_client()
    pool_world.ec2.meta.events.register("before-call.ec2.CreateFleet", no_spot_capacity)
    try:
        job_id = submit(client, samples.jpeg()).get_json()["id"]
    finally:
        pool_world.ec2.meta.events.unregister("before-call.ec2.CreateFleet", no_spot_capacity)
    (worker,) = client.get("/v1/pool").get_json()["workers"]
    assert worker["lifecycle"] == "on-demand"
    assert client.get(f"/v1/jobs/{job_id}").get_json()["note"].startswith("starting a worker")


def test_busy_workers_are_the_reason_when_the_pool_is_full(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, max_workers=1).test_client()
    first = submit(client, samples.jpeg()).get_json()["id"]
    (instance,) = pool_world.instances()
    now = iso_now()
    store = JobStore(s3_of(pool_world.aws), pool_world.aws.bucket)
    record = WorkerRecord(instance["InstanceId"], WorkerState.BUSY, now, now, ready_at=now, job_id=first)
    store.write_worker(record.but(service_seconds=4.0))
    second = submit(client, samples.jpeg()).get_json()
    assert second["note"] == "the worker is busy; about 1 job ahead"
    assert second["eta_seconds"] == 8  # one job ahead, then its own, at the measured 4 s each
    assert len(pool_world.instances()) == 1


def test_a_disabled_pool_never_calls_ec2(aws: AwsSettings) -> None:
    session = boto3.session.Session()
    dead_ec2 = session.client("ec2", region_name="us-east-1", endpoint_url=unreachable().endpoint_url, config=IMPATIENT)
    app = create_app(ApiSettings(aws=aws), s3=s3_of(aws), sqs=sqs_of(aws), ec2=dead_ec2)
    client: FlaskClient = app.test_client()
    accepted = submit(client, samples.jpeg())
    assert accepted.status_code == 202 and accepted.get_json()["note"] is None
    assert client.post("/v1/warm").get_json()["enabled"] is False
    body = client.get("/v1/pool").get_json()
    assert (body["enabled"], body["workers"], body["queue"]["visible"]) == (False, [], 1)
    lock_path(aws.bucket, "darkroom").with_suffix(".warm.sqlite").unlink(missing_ok=True)


def test_the_lambda_tier_launches_nothing_and_says_it_serves(pool_world: PoolWorld) -> None:
    """An enabled pool with DARKROOM_TIER=lambda: the function serves every job, so EC2 is never called."""
    aws = pool_world.aws
    session = boto3.session.Session()
    dead_ec2 = session.client("ec2", region_name="us-east-1", endpoint_url=unreachable().endpoint_url, config=IMPATIENT)
    settings = ApiSettings(aws=aws, pool=replace(pool_world.pool, tier="lambda"))
    app = create_app(settings, s3=s3_of(aws), sqs=sqs_of(aws), ec2=dead_ec2)
    client: FlaskClient = app.test_client()
    accepted = submit(client, samples.jpeg())
    assert accepted.status_code == 202 and accepted.get_json()["note"] is None
    for body in (client.post("/v1/warm").get_json(), client.get("/v1/pool").get_json()):
        assert (body["tier"], body["enabled"], body["workers"]) == ("lambda", False, [])
    assert pool_world.instances() == []
    lock_path(aws.bucket, pool_world.pool.name).with_suffix(".warm.sqlite").unlink(missing_ok=True)


def test_an_unreachable_ec2_does_not_fail_a_submit(pool_world: PoolWorld) -> None:
    aws = pool_world.aws
    dead = AwsSettings(endpoint_url=unreachable().endpoint_url)
    session = boto3.session.Session()
    dead_ec2 = session.client("ec2", region_name="us-east-1", endpoint_url=dead.endpoint_url, config=IMPATIENT)
    settings = ApiSettings(aws=aws, pool=pool_world.pool)
    client = create_app(settings, s3=s3_of(aws), sqs=sqs_of(aws), ec2=dead_ec2, ssm=pool_world.ssm).test_client()
    accepted = submit(client, samples.jpeg())
    assert accepted.status_code == 202  # the job is queued; capacity is tried again when it is polled
    assert accepted.get_json()["eta_seconds"] >= 1
    assert_problem(client.post("/v1/warm"), 503, "service-unavailable")
