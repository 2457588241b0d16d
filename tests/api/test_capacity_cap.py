"""The daily instance-hours cap against moto: the usage ledger in S3, the provider and a waiting job's status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api.access import AccessSettings, new_key
from jobs.bucket import Bucket
from pool.ec2 import iso
from pool.hours import Run
from pool.ledger import HoursLedger
from tests.api import samples
from tests.api.conftest import OPERATOR, pool_app
from tests.api.test_jobs import submit
from tests.support.aws import PoolWorld, s3_of

TINY_CAP = 0.0001  # instance-hours: used up by one instance running since 00:00 UTC
CAPPED = re.compile(
    r"the daily cap of 0\.0001 instance-hours is used up \(\d+\.\d h today\); no new worker starts before 00:00 UTC"
)


def test_with_the_cap_used_up_nothing_launches_and_the_waiting_job_says_why(pool_world: PoolWorld) -> None:
    aws = pool_world.aws
    ledger = HoursLedger(Bucket(s3_of(aws), aws.bucket))
    launched = datetime.now(UTC) - timedelta(hours=30)  # filed under yesterday, and running all of today
    ledger.start(Run("i-0123456789abcdef0", iso(launched)))
    client = pool_app(pool_world, daily_instance_hours=TINY_CAP).test_client()

    accepted = submit(client, samples.jpeg())
    assert accepted.status_code == 202
    assert CAPPED.fullmatch(accepted.get_json()["note"])
    job = client.get(f"/v1/jobs/{accepted.get_json()['id']}").get_json()
    assert job["status"] == "queued"
    assert CAPPED.fullmatch(job["note"])
    assert client.post("/v1/warm").status_code == 200
    assert pool_world.instances() == []  # neither the submit nor the warm launched anything

    pool = client.get("/v1/pool").get_json()
    assert pool["daily_instance_hours"] == TINY_CAP
    assert pool["instance_hours_today"] >= TINY_CAP
    assert CAPPED.fullmatch(pool["last_launch"]["error"])


def test_a_closed_api_launches_nothing_for_a_caller_without_a_key(pool_world: PoolWorld) -> None:
    key, digest = new_key()
    closed = AccessSettings(key_hashes=(digest,), require_key=True, public_submits_per_hour=0)
    client = pool_app(pool_world, access=closed).test_client()
    refused = client.post("/v1/warm")
    assert refused.status_code == 401 and refused.get_json()["type"] == "urn:darkroom:problem:api-key-required"
    assert client.get("/checkinstance").get_data(as_text=True) == "waiting\n"
    assert pool_world.instances() == []  # neither started a worker
    assert client.post("/v1/warm", headers={"X-API-Key": key}).status_code == 200
    assert len(pool_world.instances()) == 1


def test_keyless_warms_share_a_small_daily_budget_across_hosts(pool_world: PoolWorld) -> None:
    aws = pool_world.aws
    ledger = HoursLedger(Bucket(s3_of(aws), aws.bucket))
    client = pool_app(pool_world, anonymous_instance_hours=TINY_CAP).test_client()
    assert client.post("/v1/warm").status_code == 200  # a keyless warm within the budget: one worker
    ((instance_id, first),) = [(run.instance_id, run) for run in ledger.runs(datetime.now(UTC))]
    assert first.anonymous and [item["InstanceId"] for item in pool_world.instances()] == [instance_id]
    pool_world.ec2.terminate_instances(InstanceIds=[instance_id])  # it idled out at once: no time used
    assert ledger.end(instance_id, first.launched_at, first.launched_at)

    launched = datetime.now(UTC) - timedelta(hours=30)  # another host's keyless warm, running all of today
    ledger.start(Run("i-0123456789abcdef0", iso(launched), anonymous=True))
    other_host = pool_app(pool_world, anonymous_instance_hours=TINY_CAP).test_client()
    for warm in (lambda: other_host.post("/v1/warm"), lambda: other_host.get("/checkinstance")):
        assert warm().status_code == 200
    assert len(pool_world.instances()) == 1  # the budget is used up: nothing new
    assert other_host.post("/v1/warm", headers=OPERATOR).status_code == 200  # a key is not held to it
    assert len(pool_world.instances()) == 2
