"""The API's timer (api/tick.py) against moto: with no request at all, it holds the keep-warm floor."""

from __future__ import annotations

import dataclasses

from api.services import Services
from api.settings import ApiSettings
from api.tick import tick
from jobs.keepwarm import KeepWarm
from tests.support.aws import PoolWorld, s3_of, sqs_of


def test_the_tick_launches_the_keep_warm_floor_with_nothing_queued_and_no_request(pool_world: PoolWorld) -> None:
    pool = dataclasses.replace(pool_world.pool, keep_warm=KeepWarm(min_workers=1))
    settings = ApiSettings(aws=pool_world.aws, pool=pool)
    services = Services(
        settings, s3=s3_of(pool_world.aws), sqs=sqs_of(pool_world.aws), ec2=pool_world.ec2, ssm=pool_world.ssm
    )
    tick(services)
    tick(services)
    assert len(pool_world.instances()) == 1  # the floor, and no more: the booting one counts
