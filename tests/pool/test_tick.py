"""The API's timer (api/tick.py) against moto: with no request at all, it holds the keep-warm floor."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from api.services import Services
from api.settings import ApiSettings
from api.tick import tick
from jobs.keepwarm import KeepWarm
from tests.pool.test_provider import enqueue
from tests.support.aws import PoolWorld, s3_of, sqs_of


def services_for(world: PoolWorld, **pool_overrides: Any) -> Services:
    settings = ApiSettings(aws=world.aws, pool=dataclasses.replace(world.pool, **pool_overrides))
    return Services(settings, s3=s3_of(world.aws), sqs=sqs_of(world.aws), ec2=world.ec2, ssm=world.ssm)


def test_the_tick_launches_the_keep_warm_floor_with_nothing_queued_and_no_request(pool_world: PoolWorld) -> None:
    services = services_for(pool_world, keep_warm=KeepWarm(min_workers=1))
    tick(services)
    tick(services)
    assert len(pool_world.instances()) == 1  # the floor, and no more: the booting one counts


def test_with_the_lambda_tier_the_tick_launches_no_spot_worker(pool_world: PoolWorld) -> None:
    enqueue(pool_world, 1)
    tick(services_for(pool_world, tier="lambda", keep_warm=KeepWarm(min_workers=1)))
    assert pool_world.instances() == []  # the function serves the queue; the floor is the pool's


def test_with_emf_on_each_tick_prints_todays_instance_hours_for_the_daily_hours_alarm(
    pool_world: PoolWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    services = services_for(pool_world, keep_warm=KeepWarm(min_workers=1))
    tick(services)  # EMF off (the default): nothing on stdout
    assert capsys.readouterr().out == ""
    services.settings = dataclasses.replace(services.settings, emf=True)
    tick(services)
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "darkroom",
        "Dimensions": [["Pool"]],
        "Metrics": [{"Name": "InstanceHoursToday", "Unit": "None"}],
    }
    assert document["Pool"] == pool_world.pool.name
    assert 0 < document["InstanceHoursToday"] < 0.1  # the floor's worker, launched moments ago, counts
