"""The EC2 side of the pool: launch tagged workers, list them, terminate them.

Only instances carrying ``POOL_TAG`` with this pool's name are ever listed,
counted or terminated. The AMI id is read from the SSM parameter at each
launch and passed as ImageId, so a Packer rebuild that rewrites the parameter
reaches the next launch with nothing redeployed.

botocore errors are translated here: anything EC2 or SSM refuses becomes
``LaunchFailed`` (its text is the EC2 error code and message, for the job's
status); an unreachable endpoint is ``ServiceUnavailable``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs.aws import AWS_ERRORS, error_code, unavailable
from jobs.pool import POOL_TAG
from pool.settings import PoolSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)

# Errors that mean "no room for this market right now"; on-demand may still have room.
CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
        "UnfulfillableCapacity",
        "capacity-not-available",
    }
)
LIVE_STATES = frozenset({"pending", "running", "stopping", "stopped"})  # they hold a slot until terminated
SPOT, ON_DEMAND = "spot", "on-demand"


class LaunchFailed(Exception):
    """EC2 launched nothing; ``str()`` is the EC2 error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code

    @property
    def capacity(self) -> bool:
        return self.code in CAPACITY_CODES


@dataclass(frozen=True)
class Instance:
    instance_id: str
    instance_type: str
    state: str  # EC2's name: pending, running, shutting-down, terminated, stopping, stopped
    lifecycle: str  # spot or on-demand
    launched_at: str  # ISO 8601

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


@dataclass(frozen=True)
class Launched:
    instance_id: str
    instance_type: str
    lifecycle: str


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def markets(settings: PoolSettings) -> list[str]:
    """The markets to try, in order."""
    if not settings.spot:
        return [ON_DEMAND]
    return [SPOT, ON_DEMAND] if settings.on_demand_fallback else [SPOT]


class Ec2Pool:
    def __init__(self, ec2: EC2Client, ssm: SSMClient, settings: PoolSettings) -> None:
        self.ec2 = ec2
        self.ssm = ssm
        self.settings = settings

    def image_id(self) -> str:
        name = self.settings.ami_parameter
        try:
            return self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            raise LaunchFailed(error_code(exc), f"reading the AMI id from SSM parameter {name}") from exc
        except BotoCoreError as exc:
            raise unavailable(f"reading SSM parameter {name}", exc) from exc

    def launch(self, count: int) -> list[Launched]:
        """Up to ``count`` instances: spot first, on-demand for what spot could not place when allowed.

        Raises LaunchFailed when nothing was launched at all.
        """
        image = self.image_id()
        launched: list[Launched] = []
        failure: LaunchFailed | None = None
        for market in markets(self.settings):
            if len(launched) >= count:
                break
            try:
                launched += self._fleet(image, count - len(launched), market)
            except LaunchFailed as exc:
                log.warning("%s launch failed: %s", market, exc)
                failure = exc
                if not exc.capacity:  # a template or permission problem: another market fails the same way
                    break
        if not launched and failure is not None:
            raise failure
        return launched

    def _fleet(self, image: str, count: int, market: str) -> list[Launched]:
        """One EC2 Fleet ``instant`` request; its per-request errors come back in the reply, not raised."""
        try:
            reply = self.ec2.create_fleet(**self._fleet_request(image, count, market))
        except ClientError as exc:
            raise LaunchFailed(error_code(exc), str(exc.response.get("Error", {}).get("Message", ""))) from exc
        except BotoCoreError as exc:
            raise unavailable("launching workers", exc) from exc
        launched = [
            Launched(instance_id, group.get("InstanceType", "?"), group.get("Lifecycle", market))
            for group in reply.get("Instances", [])
            for instance_id in group.get("InstanceIds", [])
        ]
        errors = reply.get("Errors", [])
        if not launched and errors:
            raise LaunchFailed(errors[0].get("ErrorCode", "Unknown"), errors[0].get("ErrorMessage", ""))
        if errors:
            log.warning("%s launch placed %d of %d: %s", market, len(launched), count, errors[0].get("ErrorCode"))
        return launched

    def _fleet_request(self, image: str, count: int, market: str) -> dict[str, Any]:
        settings = self.settings
        placements: Sequence[dict[str, str]] = [{"SubnetId": subnet} for subnet in settings.subnets] or [{}]
        overrides = [
            {"InstanceType": kind, "ImageId": image, **placement}
            for kind in settings.instance_types
            for placement in placements
        ]
        template = {"LaunchTemplateName": settings.launch_template, "Version": "$Latest"}
        return {
            "Type": "instant",
            "LaunchTemplateConfigs": [{"LaunchTemplateSpecification": template, "Overrides": overrides}],
            "TargetCapacitySpecification": {"TotalTargetCapacity": count, "DefaultTargetCapacityType": market},
            "SpotOptions": {"AllocationStrategy": "price-capacity-optimized"},
            "OnDemandOptions": {"AllocationStrategy": "lowest-price"},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": POOL_TAG, "Value": settings.name}]}],
        }

    def instances(self) -> list[Instance]:
        """Every instance with this pool's tag, in any state (terminated ones linger for a while)."""
        tag_filter: list[FilterTypeDef] = [{"Name": f"tag:{POOL_TAG}", "Values": [self.settings.name]}]
        try:
            pages = self.ec2.get_paginator("describe_instances").paginate(Filters=tag_filter)
            found = [item for page in pages for group in page["Reservations"] for item in group["Instances"]]
        except AWS_ERRORS as exc:
            raise unavailable("listing the pool's instances", exc) from exc
        return [
            Instance(
                instance_id=item["InstanceId"],
                instance_type=item["InstanceType"],
                state=item["State"]["Name"],
                lifecycle=item.get("InstanceLifecycle", ON_DEMAND),
                launched_at=iso(item["LaunchTime"]),
            )
            for item in found
            if self._tagged(item.get("Tags", []))
        ]

    def _tagged(self, tags: Sequence[Any]) -> bool:
        """The filter already asked for the tag; checked again because terminating depends on it."""
        return any(tag.get("Key") == POOL_TAG and tag.get("Value") == self.settings.name for tag in tags)

    def terminate(self, instances: Sequence[Instance]) -> None:
        """Terminate instances found by ``instances()`` (so tagged with this pool)."""
        ids = [instance.instance_id for instance in instances]
        if not ids:
            return
        try:
            self.ec2.terminate_instances(InstanceIds=ids)
        except AWS_ERRORS as exc:
            raise unavailable(f"terminating {len(ids)} instance(s)", exc) from exc
