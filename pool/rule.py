"""The scaling rule: how many workers to launch now. Pure; the provider feeds it what it observed.

Demand is every message not yet finished (visible + in flight); each worker is
expected to absorb ``jobs_per_worker`` of them, so the pool wants
ceil(demand / jobs_per_worker) workers, at least one after a warm request, and
never fewer than the keep-warm ``floor`` (jobs/keepwarm.py) of the hour.
Workers that are ready, busy or still booting already count towards that.
Whatever the demand, the instances that exist (or are being launched) never
exceed ``max_workers``: draining and stopped instances still count until they
are gone, because they still hold a slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PoolCounts:
    visible: int  # messages waiting for a worker
    in_flight: int  # messages a worker has received and not yet finished
    ready: int  # workers idle and polling
    busy: int  # workers running a job
    booting: int  # launched (or being launched) and not ready yet
    occupied: int  # everything that counts against the maximum: all of the above plus draining and stopped


def desired_workers(visible: int, in_flight: int, jobs_per_worker: int, warm: bool, floor: int = 0) -> int:
    """Workers the current demand (and the keep-warm floor) calls for, before the maximum is applied."""
    demand = max(0, visible) + max(0, in_flight)
    wanted = max(math.ceil(demand / jobs_per_worker), floor)
    return max(wanted, 1) if warm else wanted


def workers_to_launch(counts: PoolCounts, jobs_per_worker: int, max_workers: int, warm: bool, floor: int = 0) -> int:
    """How many to launch now: what demand or the floor lacks, never past the maximum."""
    serving = counts.ready + counts.busy + counts.booting
    lacking = desired_workers(counts.visible, counts.in_flight, jobs_per_worker, warm, floor) - serving
    room = max_workers - counts.occupied
    return max(0, min(lacking, room))
