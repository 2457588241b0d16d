"""ensure_capacity, the slots and the reaper against moto (EC2, SSM, S3, SQS over HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from jobs.keepwarm import KeepWarm
from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import JobQueue
from jobs.status import iso_now
from jobs.store import JobStore
from pool.book import LAST_LAUNCH_KEY, PoolBook, slot_key
from pool.ec2 import Ec2Pool, iso
from pool.hours import Run, hours_today, utc_day
from pool.ledger import run_key
from pool.lock import lock_path
from pool.note import NO_CAPACITY, waiting_note
from pool.provider import Provider
from pool.view import Phase
from tests.support.aws import PoolWorld, bucket_keys, s3_of, sqs_of


def provider_for(world: PoolWorld, **overrides: Any) -> Provider:
    settings = dataclasses.replace(world.pool, **overrides)
    aws = world.aws
    store = JobStore(s3_of(aws), aws.bucket)
    queue = JobQueue.named(sqs_of(aws), aws.queue)
    lock = lock_path(aws.bucket, settings.name)
    return Provider(Ec2Pool(world.ec2, world.ssm, settings), store, queue, settings, lock, reap_every=3600)


def enqueue(world: PoolWorld, count: int) -> None:
    url = sqs_of(world.aws).get_queue_url(QueueName=world.aws.queue)["QueueUrl"]
    for n in range(count):
        sqs_of(world.aws).send_message(QueueUrl=url, MessageBody=f"job {n}")


def slot_keys(world: PoolWorld) -> list[str]:
    return [key for key in bucket_keys(world.aws) if key.startswith("pool/slots/")]


def test_a_waiting_job_launches_one_worker_into_a_slot(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world)
    assert provider.ensure_capacity(warm=False).workers == ()  # nothing queued: nothing launched
    assert pool_world.instances() == []

    enqueue(pool_world, 1)
    view = provider.ensure_capacity(warm=False)
    (instance,) = pool_world.instances()
    (worker,) = view.workers
    assert (worker.instance_id, worker.phase, worker.lifecycle) == (instance["InstanceId"], Phase.BOOTING, "spot")
    assert slot_keys(pool_world) == [slot_key(0)]
    (slot,) = PoolBook(provider.store.bucket).slots()
    assert (slot.index, slot.instance_id, slot.lifecycle) == (0, instance["InstanceId"], "spot")
    assert provider.book.last_launch() is not None and provider.book.last_launch().error is None  # type: ignore[union-attr]
    assert waiting_note(view, ahead=0) == f"starting a worker (booting for {round(view.booting_for)} s)"

    provider.ensure_capacity(warm=False)
    provider.ensure_capacity(warm=True)
    assert len(pool_world.instances()) == 1  # booting counts as coming


def test_the_keep_warm_floor_launches_workers_with_nothing_queued(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, keep_warm=KeepWarm(min_workers=2))
    provider.ensure_capacity(warm=False)
    provider.ensure_capacity(warm=False)
    assert len(pool_world.instances()) == 2  # and no more: booting ones count


def test_warm_launches_one_worker_and_only_one(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world)
    for _ in range(3):
        provider.ensure_capacity(warm=True)
    assert len(pool_world.instances()) == 1


def test_a_ready_worker_absorbs_jobs_up_to_jobs_per_worker(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, jobs_per_worker=4)
    enqueue(pool_world, 1)
    (worker,) = provider.ensure_capacity(warm=False).workers
    now = iso_now()
    provider.store.write_worker(WorkerRecord(worker.instance_id, WorkerState.READY, now, now, ready_at=now))
    enqueue(pool_world, 3)
    view = provider.ensure_capacity(warm=False)
    assert [w.phase for w in view.workers] == [Phase.READY]
    enqueue(pool_world, 1)  # five waiting: a second worker
    assert len(provider.ensure_capacity(warm=False).workers) == 2


def test_a_burst_never_launches_past_the_maximum(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, max_workers=3, jobs_per_worker=1)
    enqueue(pool_world, 20)
    view = provider.ensure_capacity(warm=False)
    assert (len(view.workers), view.occupied) == (3, 3)
    for _ in range(3):
        provider.ensure_capacity(warm=True)
    assert len(pool_world.instances()) == 3
    assert slot_keys(pool_world) == [slot_key(k) for k in range(3)]


def test_slots_held_elsewhere_count_against_the_maximum(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, max_workers=3, jobs_per_worker=1)
    book = PoolBook(provider.store.bucket)
    assert book.claim(0, iso_now()) is not None  # another process is launching into slot 0
    assert book.claim(0, iso_now()) is None  # and nobody else can claim it
    assert book.claim(2, iso_now()) is not None
    enqueue(pool_world, 10)
    view = provider.ensure_capacity(warm=False)
    assert (len(pool_world.instances()), view.launching, view.occupied) == (1, 2, 3)
    assert [slot.instance_id is not None for slot in book.slots()] == [False, True, False]


def test_a_slot_claimed_again_is_not_released_by_a_stale_reader(pool_world: PoolWorld) -> None:
    book = PoolBook(provider_for(pool_world).store.bucket)
    old = book.claim(1, iso_now())
    assert old is not None and book.release(old)
    new = book.claim(1, iso_now())
    assert new is not None
    assert not book.release(old)  # the reader's copy is out of date: the new claim survives
    assert [slot.owner for slot in book.slots()] == [new.owner]


def no_spot_capacity(params: dict[str, Any], **_: Any) -> None:
    if params["body"].get("TargetCapacitySpecification.DefaultTargetCapacityType") == "spot":
        error: Any = {
            "Code": "InsufficientInstanceCapacity",
            "Message": "We currently do not have sufficient capacity.",
        }
        raise ClientError({"Error": error}, "CreateFleet")


def test_no_capacity_is_recorded_and_the_slot_given_back(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, on_demand_fallback=False)
    enqueue(pool_world, 1)
    pool_world.ec2.meta.events.register("before-call.ec2.CreateFleet", no_spot_capacity)
    try:
        view = provider.ensure_capacity(warm=False)
    finally:
        pool_world.ec2.meta.events.unregister("before-call.ec2.CreateFleet", no_spot_capacity)
    assert pool_world.instances() == [] and slot_keys(pool_world) == []
    assert LAST_LAUNCH_KEY in bucket_keys(pool_world.aws)
    assert view.last_launch is not None and view.last_launch.capacity
    assert str(view.last_launch.error).startswith("InsufficientInstanceCapacity: We currently")  # for the logs
    assert waiting_note(view, ahead=0) == NO_CAPACITY

    view = provider.ensure_capacity(warm=False)  # capacity is back: the next try launches, and says so
    assert len(view.workers) == 1
    assert view.last_launch is not None and view.last_launch.error is None


def test_the_reaper_terminates_a_worker_that_never_became_ready_and_its_slot_is_reused(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, max_workers=1, boot_timeout_seconds=600)
    enqueue(pool_world, 1)
    (first,) = provider.ensure_capacity(warm=False).workers
    provider.store.write_worker(WorkerRecord(first.instance_id, WorkerState.STARTING, iso_now(), iso_now()))

    assert not provider.reap(provider.observe())  # booting for seconds: left alone
    later = dataclasses.replace(provider.observe(), now=provider.observe().now + timedelta(seconds=700))
    assert provider.reap(later)
    assert [item["State"]["Name"] for item in pool_world.instances()] == ["terminated"]
    (run,) = provider.ledger.runs(later.now)
    assert (run.instance_id, run.ended_at) == (first.instance_id, iso(later.now))  # counted until terminated

    assert provider.reap(provider.observe())  # gone: its slot and record are forgotten
    assert slot_keys(pool_world) == []
    assert provider.store.read_workers() == []
    (second,) = provider.ensure_capacity(warm=False).workers
    assert second.instance_id != first.instance_id
    assert slot_keys(pool_world) == [slot_key(0)]


def test_the_reaper_terminates_a_silent_worker_and_remembers_its_times(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, stale_record_seconds=120)
    (worker,) = provider.ensure_capacity(warm=True).workers
    long_ago = iso(provider.observe().now - timedelta(seconds=500))
    silent = WorkerRecord(
        worker.instance_id,
        WorkerState.BUSY,
        long_ago,
        long_ago,
        ready_at=long_ago,
        boot_seconds=45.0,
        service_seconds=6.0,
    )
    provider.store.write_worker(silent)
    assert [w.phase for w in provider.view().workers] == [Phase.STOPPED]
    assert provider.reap(provider.observe())
    assert provider.reap(provider.observe())
    assert pool_world.instances()[0]["State"]["Name"] == "terminated"
    assert provider.store.read_workers() == [] and slot_keys(pool_world) == []
    remembered = provider.view()
    assert (remembered.boot_seconds, remembered.service_seconds) == (45.0, 6.0)


def test_recent_view_reuses_a_fresh_view_and_checks_again_when_old(pool_world: PoolWorld) -> None:
    ticks = [0.0]
    provider = provider_for(pool_world)
    provider.clock = lambda: ticks[0]
    first = provider.view()
    enqueue(pool_world, 1)
    assert provider.recent_view(max_age=5) is first  # fresh: no calls, nothing launched
    assert pool_world.instances() == []
    ticks[0] = 6.0
    assert len(provider.recent_view(max_age=5).workers) == 1  # old: capacity is ensured for the waiting job


def test_an_instance_that_went_away_frees_its_slot_for_the_next_launch_at_once(pool_world: PoolWorld) -> None:
    provider = provider_for(pool_world, max_workers=1)  # the reaper ran on the first call and is not due again
    (first,) = provider.ensure_capacity(warm=True).workers
    pool_world.ec2.terminate_instances(InstanceIds=[first.instance_id])  # it stopped itself when idle
    view = provider.view()
    assert (view.workers, view.occupied) == ((), 0)
    enqueue(pool_world, 1)
    (second,) = provider.ensure_capacity(warm=False).workers
    assert second.instance_id != first.instance_id
    (slot,) = provider.book.slots()
    assert (slot.index, slot.instance_id) == (0, second.instance_id)


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


def test_once_the_daily_cap_is_used_up_idle_workers_are_stopped_and_busy_ones_after_their_job(
    pool_world: PoolWorld,
) -> None:
    provider = provider_for(pool_world, jobs_per_worker=1)
    enqueue(pool_world, 2)
    ready, busy = sorted(worker.instance_id for worker in provider.ensure_capacity(warm=False).workers)
    now = iso_now()
    provider.store.write_worker(WorkerRecord(ready, WorkerState.READY, now, now, ready_at=now))
    provider.store.write_worker(WorkerRecord(busy, WorkerState.BUSY, now, now, ready_at=now, job_id="job-1"))
    assert not provider.reap(provider.observe())  # no cap: both go on

    capped = dataclasses.replace(provider.settings, daily_instance_hours=0.0001)  # used up by their seconds so far
    provider.settings = capped
    assert provider.reap(provider.observe())
    states = {item["InstanceId"]: item["State"]["Name"] for item in pool_world.instances()}
    assert states[ready] in ("shutting-down", "terminated") and states[busy] == "running"  # no job is cut off

    provider.store.write_worker(WorkerRecord(busy, WorkerState.READY, now, iso_now(), ready_at=now))
    assert provider.reap(provider.observe())
    assert all(item["State"]["Name"] in ("shutting-down", "terminated") for item in pool_world.instances())
