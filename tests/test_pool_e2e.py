"""The spot pool end to end: moto's EC2, the API under uWSGI launching into it, and the
fleet emulator playing each instance as a real worker process with its own metadata service.

Every test starts its own pool stack (``darkroom up`` with scaled-down times)
and with it no worker: the API launches them. Resource and pool names are
unique per stack, since moto's state is shared by every server in this process.
Waits are bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import pytest
import requests

from darkroom.local.scrape import scrape, total
from jobs.aws import s3_client, sqs_client
from jobs.message import InputKind
from jobs.pool import WorkerState
from jobs.queue import JobQueue
from jobs.status import JobState
from jobs.store import JobStore
from jobs.submit import submit_job
from tests.support.pool_stack import (
    LONG_NOTICE_SECONDS,
    OPERATOR,
    SHORT_NOTICE_SECONDS,
    StartStack,
    eventually,
    fleet_of,
    instances,
    job_in,
    keep_versions,
    pool,
    processing,
    result_image,
    slow_dng,
    small_jpeg,
    status_histories,
    submit,
    terminated,
    wait_until,
    workers_shown,
)

pytestmark = pytest.mark.slow


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
    warm = requests.post(f"{stack.config.api_url}/v1/warm", headers=OPERATOR, timeout=30)
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


def test_with_no_request_at_all_a_queued_message_gets_a_worker(start_stack: StartStack) -> None:
    """The API's timer (api/tick.py in a uWSGI mule) scales the pool: a message left in the queue when every
    worker died, or put there by anyone but the API, gets a worker though nobody calls the API."""
    stack = start_stack(env={"DARKROOM_TICK_SECONDS": "2"})
    store = JobStore(s3_client(stack.aws), stack.aws.bucket)
    queue = JobQueue.named(sqs_client(stack.aws), stack.aws.queue)
    job_id = submit_job(store, queue, small_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, None).job_id  # no request
    eventually(lambda: bool(instances(stack)), "a worker launched with no request", timeout=60)
    wait_until(lambda: store.read_status(job_id), lambda s: s is not None and s.state is JobState.DONE, "done")
    # the mule launched it, and its count reaches /metrics (uWSGI's multiprocess directory covers mules)
    launches = total(scrape(f"{stack.config.api_url}/metrics"), "darkroom_pool_launches_total")
    assert launches == len(instances(stack)) == 1


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
