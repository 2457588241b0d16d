"""The EC2 adapter against moto: real boto3 calls; a capacity error is a faked AWS answer on the real client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobs.pool import POOL_TAG
from pool.ec2 import ON_DEMAND, SPOT, Ec2Pool, LaunchFailed
from pool.settings import PoolSettings
from tests.support.aws import PoolWorld

CAPACITY: Any = {"Code": "InsufficientInstanceCapacity", "Message": "There is no Spot capacity available."}


def adapter(world: PoolWorld, **overrides: Any) -> Ec2Pool:
    return Ec2Pool(world.ec2, world.ssm, dataclasses.replace(world.pool, **overrides))


def is_spot_fleet(params: dict[str, Any]) -> bool:
    """EC2 speaks the query protocol: the request body is flat key=value pairs."""
    return bool(params["body"].get("TargetCapacitySpecification.DefaultTargetCapacityType") == "spot")


@pytest.fixture
def hooks(pool_world: PoolWorld) -> Iterator[Callable[[str, Callable[..., Any]], None]]:
    """Register event hooks on the test's EC2 client; they are removed afterwards (the client is shared)."""
    registered: list[tuple[str, Callable[..., Any]]] = []

    def register(event: str, handler: Callable[..., Any]) -> None:
        pool_world.ec2.meta.events.register(event, handler)
        registered.append((event, handler))

    yield register
    for event, handler in registered:
        pool_world.ec2.meta.events.unregister(event, handler)


def no_spot_capacity_raised(params: dict[str, Any], **_: Any) -> None:
    if is_spot_fleet(params):
        raise ClientError({"Error": CAPACITY}, "CreateFleet")


class FakeHttp:
    status_code = 200
    headers: dict[str, str] = {}


def no_spot_capacity_answered(params: dict[str, Any], **_: Any) -> tuple[FakeHttp, dict[str, Any]] | None:
    """What an instant fleet really answers when spot has no room: no instances, and the errors in the reply."""
    if not is_spot_fleet(params):
        return None
    error = {"ErrorCode": CAPACITY["Code"], "ErrorMessage": CAPACITY["Message"], "Lifecycle": "spot"}
    return FakeHttp(), {"FleetId": "fleet-0", "Instances": [], "Errors": [error]}


def test_launch_tags_instances_and_uses_the_ami_from_ssm(
    pool_world: PoolWorld, hooks: Callable[[str, Callable[..., Any]], None]
) -> None:
    requests: list[dict[str, Any]] = []
    hooks("provide-client-params.ec2.CreateFleet", lambda params, **_: requests.append(params))
    launched = adapter(pool_world).launch(2)
    assert len(launched) == 2 and all(item.lifecycle == SPOT for item in launched)

    instances = {item["InstanceId"]: item for item in pool_world.instances()}
    assert set(instances) == {item.instance_id for item in launched}
    for item in instances.values():
        assert {"Key": POOL_TAG, "Value": pool_world.pool.name} in item["Tags"]
        assert item["ImageId"] == pool_world.ami
        assert item["InstanceLifecycle"] == "spot"
        assert item["SubnetId"] in pool_world.pool.subnets

    (request,) = requests
    assert request["Type"] == "instant"
    assert request["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
    config = request["LaunchTemplateConfigs"][0]
    assert config["LaunchTemplateSpecification"]["LaunchTemplateName"] == pool_world.pool.launch_template
    # moto places everything on the first override; the request itself offers every type in every subnet
    offered = {(o["InstanceType"], o["SubnetId"]) for o in config["Overrides"]}
    assert offered == {(t, s) for t in pool_world.pool.instance_types for s in pool_world.pool.subnets}


def test_a_new_ami_in_the_parameter_reaches_the_next_launch(pool_world: PoolWorld) -> None:
    rebuilt = pool_world.ec2.register_image(Name=f"rebuilt-{pool_world.pool.name}", RootDeviceName="/dev/xvda")[
        "ImageId"
    ]
    pool_world.ssm.put_parameter(Name=pool_world.pool.ami_parameter, Value=rebuilt, Type="String", Overwrite=True)
    (launched,) = adapter(pool_world).launch(1)
    (instance,) = pool_world.instances()
    assert instance["InstanceId"] == launched.instance_id
    assert instance["ImageId"] == rebuilt


@pytest.mark.parametrize("no_spot", [no_spot_capacity_raised, no_spot_capacity_answered])
def test_no_spot_capacity_falls_back_to_on_demand(
    pool_world: PoolWorld, hooks: Callable[[str, Callable[..., Any]], None], no_spot: Callable[..., Any]
) -> None:
    hooks("before-call.ec2.CreateFleet", no_spot)
    (launched,) = adapter(pool_world).launch(1)
    assert launched.lifecycle == ON_DEMAND
    (instance,) = pool_world.instances()
    assert instance["InstanceId"] == launched.instance_id
    assert "InstanceLifecycle" not in instance  # EC2 marks only spot instances
    assert {"Key": POOL_TAG, "Value": pool_world.pool.name} in instance["Tags"]


@pytest.mark.parametrize("no_spot", [no_spot_capacity_raised, no_spot_capacity_answered])
def test_without_fallback_the_capacity_error_is_raised_and_nothing_launches(
    pool_world: PoolWorld, hooks: Callable[[str, Callable[..., Any]], None], no_spot: Callable[..., Any]
) -> None:
    hooks("before-call.ec2.CreateFleet", no_spot)
    with pytest.raises(LaunchFailed) as caught:
        adapter(pool_world, on_demand_fallback=False).launch(1)
    assert str(caught.value) == f"{CAPACITY['Code']}: {CAPACITY['Message']}"
    assert caught.value.capacity
    assert pool_world.instances() == []


def test_on_demand_only_pool_never_asks_for_spot(pool_world: PoolWorld) -> None:
    (launched,) = adapter(pool_world, spot=False).launch(1)
    assert launched.lifecycle == ON_DEMAND


def test_a_broken_setup_is_a_launch_failure_that_says_what_is_wrong(pool_world: PoolWorld) -> None:
    with pytest.raises(LaunchFailed) as missing_parameter:
        adapter(pool_world, ami_parameter="/darkroom/no-such-parameter").launch(1)
    assert missing_parameter.value.code == "ParameterNotFound"
    assert not missing_parameter.value.capacity
    with pytest.raises(LaunchFailed) as missing_template:
        adapter(pool_world, launch_template="no-such-template").launch(1)
    assert not missing_template.value.capacity
    assert pool_world.instances() == []


def test_only_the_pools_own_instances_are_listed_and_terminated(pool_world: PoolWorld) -> None:
    ours = adapter(pool_world)
    (mine,) = ours.launch(1)
    other_pool = adapter(pool_world, name=pool_world.pool.name + "-other")
    (theirs,) = other_pool.launch(1)
    untagged = pool_world.ec2.run_instances(ImageId=pool_world.ami, MinCount=1, MaxCount=1)["Instances"][0]

    listed = ours.instances()
    assert [item.instance_id for item in listed] == [mine.instance_id]
    assert listed[0].live and listed[0].state == "running" and listed[0].lifecycle == SPOT
    ours.terminate(listed)
    assert [item.state for item in ours.instances()] == ["terminated"]
    assert [item.state for item in other_pool.instances()] == ["running"]
    untouched = pool_world.ec2.describe_instances(InstanceIds=[untagged["InstanceId"], theirs.instance_id])
    states = [i["State"]["Name"] for r in untouched["Reservations"] for i in r["Instances"]]
    assert states == ["running", "running"]


def test_settings_are_the_adapters_only_configuration() -> None:
    assert PoolSettings().spot and PoolSettings().on_demand_fallback
