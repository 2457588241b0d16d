"""The fleet emulator against moto's EC2 and real worker processes.

Instances are launched the way the API launches them (boto3 against moto,
from the launch template, tagged with the pool's name); each test has a pool
name of its own, since moto's state is shared by the whole test process.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from PIL import Image

from darkroom.local.aws import AMI_PARAMETER, EMULATOR_CREDENTIALS, LAUNCH_TEMPLATE, create_pool_resources, free_port
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.fleet import Fleet, FleetConfig
from darkroom.local.imds import TOKEN_HEADER, TTL_HEADER, FakeImds
from darkroom.local.stack import LocalStack
from jobs.aws import ec2_client, ssm_client
from jobs.pool import POOL_TAG
from jobs.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TagSpecificationTypeDef

pytestmark = pytest.mark.slow


def eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def worker_env(aws: AwsSettings) -> dict[str, str]:
    return {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        **aws.to_env(),
        "DARKROOM_METHOD": "baseline",
        "DARKROOM_WAIT_SECONDS": "1",
        "DARKROOM_IDLE_SECONDS": "0",  # these workers stay until told
        "PYTHONUNBUFFERED": "1",
    }


def start_fleet(aws: AwsSettings, boot_seconds: float = 0.2) -> Fleet:
    config = FleetConfig(pool=f"pool-{uuid.uuid4().hex[:8]}", boot_seconds=boot_seconds, poll_seconds=0.1)
    return Fleet(ec2_client(aws), config, worker_env(aws)).start()


@pytest.fixture
def pool_aws(aws: AwsSettings) -> AwsSettings:
    """The test's bucket and queues, and the pool's template and AMI (shared: moto's state is per process)."""
    create_pool_resources(aws)
    return aws


@pytest.fixture
def fleet(pool_aws: AwsSettings) -> Iterator[Fleet]:
    fleet = start_fleet(pool_aws)
    yield fleet
    fleet.stop()


def environ_of(pid: int) -> dict[str, str]:
    items = Path(f"/proc/{pid}/environ").read_text().split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def launch(aws: AwsSettings, pool: str | None) -> str:
    """One instance from the pool's template and AMI, as the API launches it."""
    tags: list[TagSpecificationTypeDef] = (
        [{"ResourceType": "instance", "Tags": [{"Key": POOL_TAG, "Value": pool}]}] if pool else []
    )
    ami = ssm_client(aws).get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    reply = ec2_client(aws).run_instances(
        LaunchTemplate={"LaunchTemplateName": LAUNCH_TEMPLATE},
        ImageId=ami,
        InstanceType="g5.xlarge",
        MinCount=1,
        MaxCount=1,
        InstanceMarketOptions={"MarketType": "spot"},
        TagSpecifications=tags,
    )
    return reply["Instances"][0]["InstanceId"]


def state(aws: AwsSettings, instance_id: str) -> str:
    reply = ec2_client(aws).describe_instances(InstanceIds=[instance_id])
    return reply["Reservations"][0]["Instances"][0]["State"]["Name"]


def worker_of(fleet: Fleet, instance_id: str) -> int:
    """The pid of the instance's worker, once it has booted."""
    eventually(lambda: fleet.process(instance_id) is not None, f"a worker for {instance_id}")
    process = fleet.process(instance_id)
    assert process is not None and process.poll() is None
    return process.pid


def metadata(imds: FakeImds, path: str) -> requests.Response:
    key = requests.put(f"{imds.url}/latest/api/token", headers={TTL_HEADER: "60"}, timeout=5).text
    return requests.get(f"{imds.url}/latest/meta-data/{path}", headers={TOKEN_HEADER: key}, timeout=5)


def test_each_pool_instance_gets_a_worker_with_its_own_metadata(aws: AwsSettings, fleet: Fleet) -> None:
    untagged = launch(aws, pool=None)
    other_pool = launch(aws, pool="someone-else")
    ours = launch(aws, pool=fleet.config.pool)
    pid = worker_of(fleet, ours)
    assert fleet.instance_ids() == [ours]  # the same look at EC2 saw the other two
    assert fleet.process(untagged) is None and fleet.process(other_pool) is None
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
    imds = fleet.imds(ours)
    assert imds is not None and environ["DARKROOM_IMDS_URL"] == imds.url
    assert environ["DARKROOM_QUEUE"] == aws.queue
    assert metadata(imds, "instance-id").text == ours
    assert metadata(imds, "instance-type").text == "g5.xlarge"
    assert metadata(imds, "instance-life-cycle").text == "spot"
    assert state(aws, untagged) == state(aws, other_pool) == "running"  # never touched


def test_terminating_the_instance_kills_its_worker(aws: AwsSettings, fleet: Fleet) -> None:
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    process = fleet.process(instance_id)
    assert process is not None
    ec2_client(aws).terminate_instances(InstanceIds=[instance_id])
    assert process.wait(timeout=60) == -signal.SIGKILL
    eventually(lambda: fleet.instance_ids() == [], "the instance is forgotten")


def test_a_worker_that_exits_by_itself_terminates_its_instance(aws: AwsSettings, fleet: Fleet) -> None:
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    process = fleet.process(instance_id)
    assert process is not None
    process.send_signal(signal.SIGTERM)  # an idle worker stops; as after its idle timeout, it powers off
    eventually(lambda: state(aws, instance_id) == "terminated", "the instance is terminated")
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)  # its own exit (-15 if still importing), not a SIGKILL
    assert fleet.instance_ids() == []


def test_an_interruption_posts_a_notice_then_reclaims_the_instance(aws: AwsSettings, fleet: Fleet) -> None:
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    process, imds = fleet.process(instance_id), fleet.imds(instance_id)
    assert process is not None and imds is not None
    assert metadata(imds, "spot/instance-action").status_code == 404
    assert fleet.interrupt(instance_id, notice_seconds=5)
    notice = metadata(imds, "spot/instance-action")
    assert notice.status_code == 200 and json.loads(notice.text)["action"] == "terminate"
    assert state(aws, instance_id) == "running"  # the notice comes first
    eventually(lambda: state(aws, instance_id) == "terminated", "the instance is reclaimed")
    eventually(lambda: process.poll() is not None, "the worker is gone")
    assert fleet.instance_ids() == []


@pytest.mark.usefixtures("pool_aws")
def test_an_interrupted_instance_that_never_booted_is_still_reclaimed(aws: AwsSettings) -> None:
    fleet = start_fleet(aws, boot_seconds=3600)
    try:
        instance_id = launch(aws, fleet.config.pool)
        eventually(lambda: fleet.instance_ids() == [instance_id], "the instance is seen")
        assert fleet.interrupt(instance_id, notice_seconds=0.5)
        eventually(lambda: state(aws, instance_id) == "terminated", "the instance is reclaimed")
        assert fleet.process(instance_id) is None
        assert not fleet.interrupt(instance_id, notice_seconds=1)  # nothing left to interrupt
    finally:
        fleet.stop()


def test_kill_pulls_the_plug(aws: AwsSettings, fleet: Fleet) -> None:
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    process = fleet.process(instance_id)
    assert process is not None
    assert fleet.kill(instance_id)
    assert process.returncode == -signal.SIGKILL
    assert state(aws, instance_id) == "terminated"
    assert fleet.instance_ids() == []


@pytest.mark.usefixtures("pool_aws")
def test_stopping_the_fleet_stops_its_workers_and_ends_their_instances(aws: AwsSettings) -> None:
    fleet = start_fleet(aws)
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    process = fleet.process(instance_id)
    assert process is not None
    fleet.stop()
    assert process.returncode in (0, -signal.SIGTERM)  # asked to stop, not killed
    assert state(aws, instance_id) == "terminated"
    assert not fleet.alive


def test_strike_interrupts_or_kills_a_random_worker(aws: AwsSettings, fleet: Fleet) -> None:
    assert fleet.strike() is None  # no worker yet
    instance_id = launch(aws, fleet.config.pool)
    worker_of(fleet, instance_id)
    did = fleet.strike(notice_seconds=0.5)
    assert did in (f"killed {instance_id}", f"interrupted {instance_id}")
    eventually(lambda: state(aws, instance_id) == "terminated", "the instance ends")
    eventually(lambda: fleet.instance_ids() == [], "the instance is forgotten")


def small_dark_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((320, 240)).convert("RGB").point(lambda v: v // 20).save(buf, "JPEG")
    return buf.getvalue()


def test_a_pool_stack_turns_launched_instances_into_workers_that_do_jobs() -> None:
    suffix = uuid.uuid4().hex[:8]  # moto's state is shared by every server in this process
    config = StackConfig(
        aws=AwsSettings(bucket=f"darkroom-{suffix}", queue=f"jobs-{suffix}", dead_letter_queue=f"dlq-{suffix}"),
        api_port=free_port(),
        moto_port=free_port(),
        method="baseline",  # the stack's behaviour, not a model's: seconds per job on a CPU
        workers=0,
        pool=PoolConfig(name=f"pool-{suffix}", max_workers=2, boot_seconds=0.2, idle_seconds=0),
        api_processes=2,
        wait_seconds=1,
    )
    stack = LocalStack(config)
    stack.start()
    try:
        assert stack.fleet is not None and stack.workers == [] and stack.api is not None
        api_env = environ_of(stack.api.pid)
        assert api_env["DARKROOM_POOL_ENABLED"] == "true" and api_env["DARKROOM_POOL"] == f"pool-{suffix}"
        assert api_env["DARKROOM_MAX_WORKERS"] == "2"
        assert stack.resources is not None and api_env["DARKROOM_SUBNETS"] == ",".join(stack.resources.subnets)
        assert stack.resources.subnets
        instance_id = launch(stack.aws, f"pool-{suffix}")  # as the API launches one
        pid = worker_of(stack.fleet, instance_id)
        assert environ_of(pid)["DARKROOM_IDLE_SECONDS"] == "0"
        url = config.api_url
        reply = requests.post(f"{url}/v1/jobs", files={"image": ("dark.jpg", small_dark_jpeg())}, timeout=30)
        assert reply.status_code == 202, reply.text
        job_url = f"{url}/v1/jobs/{reply.json()['id']}"
        eventually(lambda: requests.get(job_url, timeout=10).json()["status"] in ("done", "failed"), "the job ends")
        assert requests.get(job_url, timeout=10).json()["status"] == "done"
    finally:
        stack.stop()
    assert stack.fleet.instance_ids() == []  # every worker stopped with the stack
