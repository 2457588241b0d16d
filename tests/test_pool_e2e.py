"""The spot pool end to end: moto's EC2, the API under uWSGI launching into it, and the
fleet emulator playing each instance as a real worker process with its own metadata service.

Every test starts its own pool stack (``darkroom up`` with scaled-down times)
and with it no worker: the API launches them. Resource and pool names are
unique per stack, since moto's state is shared by every server in this process.
Waits are bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests
from PIL import Image

from darkroom.dng import synthetic_dark_dng
from darkroom.local.aws import free_port
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.fleet import Fleet
from darkroom.local.stack import LocalStack
from jobs.aws import ec2_client, s3_client, sqs_client
from jobs.ids import status_key
from jobs.pool import POOL_TAG, WorkerState
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.store import JobStore

pytestmark = pytest.mark.slow

T = TypeVar("T")
StartStack = Callable[..., LocalStack]

NOTICE_MARGIN_SECONDS = 3.0  # a job must end this long before a spot deadline, else it is handed back
SHORT_NOTICE_SECONDS = 2.5  # shorter than the margin: no job fits, the message goes back at once
LONG_NOTICE_SECONDS = 60.0  # any job here fits


@pytest.fixture
def start_stack() -> Iterator[StartStack]:
    """Starts pool stacks (no worker until the API launches one); stops them after the test."""
    stacks: list[LocalStack] = []

    def start(
        max_workers: int = 2, boot_seconds: float = 1.0, idle_seconds: float = 60.0, max_receives: int = 3
    ) -> LocalStack:
        suffix = uuid.uuid4().hex[:8]
        config = StackConfig(
            aws=AwsSettings(bucket=f"darkroom-{suffix}", queue=f"jobs-{suffix}", dead_letter_queue=f"dlq-{suffix}"),
            api_port=free_port(),
            moto_port=free_port(),
            pool=PoolConfig(
                name=f"pool-{suffix}", max_workers=max_workers, boot_seconds=boot_seconds, idle_seconds=idle_seconds
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
    reply = requests.get(f"{stack.config.api_url}/v1/pool", timeout=30)
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


# -- launch on demand, pre-warm, scale to zero ----------------------------------


def test_a_job_with_no_worker_launches_one_that_completes_it(start_stack: StartStack) -> None:
    stack = start_stack(boot_seconds=3.0)
    assert instances(stack) == {} and pool(stack)["workers"] == []  # a pool stack starts with none

    accepted = submit(stack, small_jpeg(), "dark.jpg")
    (instance_id,) = instances(stack)  # the submit launched it
    assert "starting a worker" in accepted["note"]
    shown = pool(stack)
    assert workers_shown(shown) == [(instance_id, "booting")]  # launched; its worker has not reported ready
    assert shown["workers"][0]["lifecycle"] == "spot"

    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert status["worker"] == instance_id and status["attempts"] == 1
    assert result_image(stack, accepted["id"]).size == (320, 240)
    assert (status["result"]["width"], status["result"]["height"]) == (320, 240)
    ready = wait_until(lambda: pool(stack), lambda body: workers_shown(body) == [(instance_id, "ready")], "ready")
    assert (ready["queue"]["visible"], ready["queue"]["in_flight"], ready["queue"]["dead_letter"]) == (0, 0, 0)
    assert fleet_of(stack).instance_ids() == [instance_id] and instances(stack) == {instance_id: "running"}
    process = fleet_of(stack).process(instance_id)
    assert process is not None
    fleet_of(stack).stop()  # as the stack stops: SIGTERM to an idle worker, wherever it is in its loop
    assert process.returncode == 0 and terminated(stack, instance_id)


def test_a_warm_worker_takes_the_next_job(start_stack: StartStack) -> None:
    stack = start_stack()
    warm = requests.post(f"{stack.config.api_url}/v1/warm", timeout=30)
    assert warm.status_code == 200, warm.text
    (instance_id,) = instances(stack)
    assert workers_shown(warm.json()) == [(instance_id, "booting")]  # answered at once, not after the boot
    eventually(lambda: workers_shown(pool(stack)) == [(instance_id, "ready")], "the warm worker is ready")

    assert requests.post(f"{stack.config.api_url}/v1/warm", timeout=30).status_code == 200  # one is enough
    accepted = submit(stack, small_jpeg(), "dark.jpg")
    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert status["worker"] == instance_id
    assert instances(stack) == {instance_id: "running"}  # one instance in all


def test_an_idle_worker_stops_and_its_instance_is_terminated(start_stack: StartStack) -> None:
    stack = start_stack(idle_seconds=2.0)
    accepted = submit(stack, small_jpeg(), "dark.jpg")
    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    instance_id = status["worker"]
    process = fleet_of(stack).process(instance_id)
    assert process is not None

    assert process.wait(timeout=60) == 0  # it stopped by itself: not killed
    eventually(lambda: terminated(stack, instance_id), "its instance is terminated")
    eventually(lambda: pool(stack)["workers"] == [], "the pool shows no live worker")
    records = {record.instance_id: record for record in JobStore(s3_client(stack.aws), stack.aws.bucket).read_workers()}
    assert (records[instance_id].state, records[instance_id].reason) == (WorkerState.STOPPED, "idle")


# -- spot interruptions and lost instances ---------------------------------------


def test_a_short_spot_notice_hands_the_job_to_another_worker(start_stack: StartStack) -> None:
    stack = start_stack()
    keep_versions(stack)
    accepted = submit(stack, slow_dng(), "slow.dng", ratio="100")
    first = processing(stack, accepted["id"])["worker"]

    assert fleet_of(stack).interrupt(first, notice_seconds=SHORT_NOTICE_SECONDS)  # less than the margin
    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert status["attempts"] >= 2 and status["worker"] not in (None, first)
    assert result_image(stack, accepted["id"]).size == (4000, 3000)
    eventually(lambda: terminated(stack, first), "the interrupted instance is reclaimed")
    ((documents, _),) = status_histories(stack, [accepted["id"]]).values()
    handed_back = [d for d in documents.values() if d["state"] == "queued" and "handed back" in (d["note"] or "")]
    assert [d["worker"] for d in handed_back] == [first]  # at once (not after the lease ran out), and only once


def test_a_long_spot_notice_lets_the_job_finish_on_its_worker(start_stack: StartStack) -> None:
    stack = start_stack()
    accepted = submit(stack, slow_dng(), "slow.dng", ratio="100")
    first = processing(stack, accepted["id"])["worker"]
    process = fleet_of(stack).process(first)
    assert process is not None

    assert fleet_of(stack).interrupt(first, notice_seconds=LONG_NOTICE_SECONDS)
    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert (status["worker"], status["attempts"]) == (first, 1)
    assert process.wait(timeout=60) == 0  # drained: took no new work and stopped before AWS took the instance
    eventually(lambda: terminated(stack, first), "the drained instance powers off")
    records = {record.instance_id: record for record in JobStore(s3_client(stack.aws), stack.aws.bucket).read_workers()}
    assert (records[first].state, records[first].jobs_done) == (WorkerState.STOPPED, 1)


def test_a_killed_workers_job_completes_elsewhere_after_its_lease(start_stack: StartStack) -> None:
    stack = start_stack()
    accepted = submit(stack, slow_dng(), "slow.dng", ratio="100")
    first = processing(stack, accepted["id"])["worker"]

    assert fleet_of(stack).kill(first)  # SIGKILL: no hand-back, the lease has to run out
    assert terminated(stack, first)
    status = job_in(stack, accepted["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert status["attempts"] >= 2 and status["worker"] not in (None, first)
    assert result_image(stack, accepted["id"]).size == (4000, 3000)


# -- chaos ----------------------------------------------------------------------


class Striker:
    """A thread that interrupts or kills a random running worker at random intervals, for ``seconds``."""

    def __init__(self, fleet: Fleet, seconds: float) -> None:
        self.fleet = fleet
        self.seconds = seconds
        self.rng = random.Random()
        self.done: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="striker", daemon=True)

    def __enter__(self) -> Striker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def count(self, verb: str) -> int:
        return sum(1 for what in self.done if what.startswith(verb))

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while not self._stop.wait(self.rng.uniform(1.0, 4.0)) and time.monotonic() < deadline:
            # short notices hand jobs back; long ones let them finish
            struck = self.fleet.strike(notice_seconds=self.rng.choice([SHORT_NOTICE_SECONDS, 5.0, 15.0]))
            if struck is not None:
                self.done.append(struck)


def chaos_size(index: int) -> tuple[int, int]:
    """About 2 MP, so a worker is busy a good part of the time a strike may come (a job takes half a second);
    sizes differ from job to job, so each result is checked against its own input."""
    return 1600 + 16 * (index % 5), 1200 + 8 * (index % 3)


CHAOS_JOBS = int(os.environ.get("DARKROOM_CHAOS_JOBS", "36"))  # `make chaos` runs 300
CHAOS_SECONDS = float(os.environ.get("DARKROOM_CHAOS_SECONDS", "30"))


def test_chaos_every_job_ends_done_exactly_once(start_stack: StartStack) -> None:
    jobs_count, started = CHAOS_JOBS, time.monotonic()
    stack = start_stack(max_workers=3, idle_seconds=30.0, max_receives=20)
    keep_versions(stack)  # every write of every status document is kept
    sizes: dict[str, tuple[int, int]] = {}
    with Striker(fleet_of(stack), seconds=CHAOS_SECONDS) as striker:  # strikes while the queue drains, then stops
        for index in range(jobs_count):
            sizes[submit(stack, small_jpeg(*chaos_size(index)), f"dark-{index}.jpg")["id"]] = chaos_size(index)
        finals = {job_id: job_in(stack, job_id, {"done", "failed"}, timeout=180 + jobs_count) for job_id in sizes}
    wall = time.monotonic() - started  # from starting the stack to every job ended
    histories = status_histories(stack, list(sizes))
    handed_back = sum(
        any("handed back" in (document["note"] or "") for document in documents.values())
        for documents, _ in histories.values()
    )
    attempts = Counter(status["attempts"] for status in finals.values())
    print(
        f"\nchaos: {jobs_count} jobs, {len(striker.done)} strikes ({striker.count('killed')} kills, "
        f"{striker.count('interrupted')} interruptions), {handed_back} jobs handed back, "
        f"attempts {dict(sorted(attempts.items()))}, {wall:.1f} s"
    )

    assert striker.done, "nothing was struck"
    eventually(lambda: queues_empty(stack), "the queue and the dead-letter queue are empty", timeout=60)
    assert {status["status"] for status in finals.values()} == {"done"}, finals
    for job_id, size in sizes.items():
        assert result_image(stack, job_id).size == size
        assert (finals[job_id]["result"]["width"], finals[job_id]["result"]["height"]) == size
        documents, current = histories[job_id]
        done = [version for version, document in documents.items() if document["state"] == "done"]
        assert done == [current], f"job {job_id}: done {len(done)} times, or overwritten after: {documents}"
