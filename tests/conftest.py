"""Shared fixtures: a real moto server over HTTP, fresh resources per test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from darkroom.local.aws import create_pool_resources, create_resources, start_moto, use_emulator_credentials
from jobs.settings import AwsSettings
from pool.settings import PoolSettings
from tests.support.aws import PoolWorld
from tests.support.pool_stack import StartStack, pool_stacks

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    use_emulator_credentials()
    server, url = start_moto()
    yield url
    server.stop()


def fresh_aws(moto_url: str, prefix: str) -> AwsSettings:
    """A bucket and queues under new names, created (moto's state is shared by every test of the session)."""
    suffix = uuid.uuid4().hex[:10]
    settings = AwsSettings(
        endpoint_url=moto_url,
        bucket=f"{prefix}-{suffix}",
        queue=f"jobs-{suffix}",
        dead_letter_queue=f"jobs-dlq-{suffix}",
    )
    create_resources(settings, visibility_timeout=30, max_receives=2)
    return settings


@pytest.fixture
def aws(moto_url: str) -> Iterator[AwsSettings]:
    """Settings for a bucket and queues of this test's own, already created.

    Afterwards the API's per-host files for that bucket (pool lock, rate limits) are removed from the temp dir.
    """
    settings = fresh_aws(moto_url, "darkroom-test")
    yield settings
    for path in Path(tempfile.gettempdir()).glob(f"darkroom-pool-{settings.bucket}-*"):
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def module_aws(moto_url: str) -> AwsSettings:
    """A bucket and queues shared by one module's tests, for tests that look only at keys of their own
    (making them costs seconds on a busy machine)."""
    return fresh_aws(moto_url, "darkroom-mod")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def pool_world(aws: AwsSettings) -> Iterator[PoolWorld]:
    """The local stack's pool resources (darkroom.local.aws), under names of this test's own."""
    suffix = aws.bucket.rsplit("-", 1)[-1]  # moto's EC2 and SSM are shared by the session: names of our own
    made = create_pool_resources(aws, f"darkroom-worker-{suffix}", f"/darkroom/worker-ami-{suffix}")
    pool = PoolSettings(
        enabled=True,
        name=f"pool-{suffix}",
        launch_template=made.launch_template,
        ami_parameter=made.ami_parameter,
        subnets=made.subnets[:2],
    )
    yield PoolWorld(aws, pool, made.ami_id)  # the aws fixture removes the pool's lock and limit files


@pytest.fixture
def start_stack() -> Iterator[StartStack]:
    """Starts pool stacks (no worker until the API launches one); stops them after the test."""
    yield from pool_stacks()
