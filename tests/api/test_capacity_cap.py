"""The daily instance-hours cap against moto: the usage ledger in S3, the provider and a waiting job's status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from jobs.bucket import Bucket
from pool.ec2 import iso
from pool.hours import Run
from pool.ledger import HoursLedger
from tests.api import samples
from tests.api.conftest import pool_app
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
