"""The daily instance-hours cap against moto: the usage ledger in S3, the provider and a waiting job's status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api.capacity.ec2 import iso
from api.capacity.hours import Run, hours_today, utc_day
from api.capacity.ledger import HoursLedger, run_key
from jobs.pool import WorkerRecord, WorkerState
from jobs.status import iso_now
from jobs.store import JobStore
from tests.api import samples
from tests.api.conftest import PoolWorld, bucket_keys, s3_of
from tests.api.test_capacity_provider import provider_for, slot_keys
from tests.api.test_jobs import submit

TINY_CAP = 0.0001  # instance-hours: used up by one instance running since 00:00 UTC
CAPPED = re.compile(
    r"the daily cap of 0\.0001 instance-hours is used up \(\d+\.\d h today\); no new worker starts before 00:00 UTC"
)


def test_with_the_cap_used_up_nothing_launches_and_the_waiting_job_says_why(pool_world: PoolWorld) -> None:
    aws = pool_world.aws
    ledger = HoursLedger(JobStore(s3_of(aws), aws.bucket))
    launched = datetime.now(UTC) - timedelta(hours=30)  # filed under yesterday, and running all of today
    ledger.start(Run("i-0123456789abcdef0", iso(launched)))
    client = pool_world.app(daily_instance_hours=TINY_CAP).test_client()

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


def test_a_launch_is_ledgered_and_still_counted_after_the_reaper_forgets_its_worker(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, daily_instance_hours=100)
    view = provider.ensure_capacity(warm=True)
    (worker,) = view.workers
    assert view.hours_today == 0  # read before the launch: nothing had run today
    (run,) = provider.ledger.runs(provider.observe().now)
    assert (run.instance_id, run.ended_at) == (worker.instance_id, None)
    assert run_key(utc_day(datetime.fromisoformat(run.launched_at)), run.instance_id) in bucket_keys(pool_world.aws)

    stopped_at = iso_now()  # the worker idled out, wrote its last record and powered off
    provider.store.write_worker(WorkerRecord(worker.instance_id, WorkerState.STOPPED, run.launched_at, stopped_at))
    pool_world.ec2.terminate_instances(InstanceIds=[worker.instance_id])
    assert provider.reap(provider.observe())
    assert provider.store.read_workers() == [] and slot_keys(pool_world) == []

    seen = provider.observe()
    (ended,) = provider.ledger.runs(seen.now)
    assert ended == Run(run.instance_id, run.launched_at, stopped_at)
    assert provider.hours_used(seen) == hours_today([ended], seen.now) > 0  # counted, once, from the ledger alone
    assert not provider.ledger.end(run.instance_id, run.launched_at, iso_now())  # the first end stays
    assert provider.ledger.runs(seen.now) == [ended]
