"""What the provider tells its owner about launches: instances launched, and launches that placed nothing.

A protocol, so the pool stays free of any metrics library: the API passes
one that counts into Prometheus (api/launch_metrics.py), in every uWSGI
process that launches, its timer mule included.
"""

from __future__ import annotations

from typing import Protocol

CAPACITY = "capacity"  # spot (and on-demand, when allowed) had no room
REFUSED = "refused"  # another EC2 or SSM error: a template, permission or AMI parameter problem
DAILY_CAP = "daily-cap"  # today's instance-hours reached DARKROOM_DAILY_INSTANCE_HOURS: nothing was asked of EC2


class LaunchCounter(Protocol):
    def launched(self, lifecycle: str, count: int) -> None:
        """``count`` instances of one market (spot or on-demand) launched."""

    def failed(self, reason: str) -> None:
        """A launch placed nothing: ``CAPACITY``, ``REFUSED`` or ``DAILY_CAP``."""


class NoLaunchCounter:
    def launched(self, lifecycle: str, count: int) -> None:
        pass

    def failed(self, reason: str) -> None:
        pass
