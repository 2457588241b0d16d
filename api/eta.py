"""How long a job will take and how soon a client should ask again: small pure estimates.

Every job is assumed to take the same service time (measured by the workers
when they have, else the setting's estimate). Without a pool (a static
worker) the queue is assumed to drain one job at a time. With a pool, the
jobs ahead are shared among the working workers, and when none works yet the
job also waits for one to boot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jobs.queue import QueueDepth
from jobs.status import JobState

MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 15
MIN_BOOT_LEFT_SECONDS = 5.0  # a worker booting longer than usual is still some seconds away


@dataclass(frozen=True)
class PoolEta:
    """What the estimate needs to know about the pool."""

    working: int  # workers ready or busy
    booting: int  # workers launching or booting
    booting_for: float  # seconds the longest-booting one has been at it
    boot_seconds: float  # launch to ready, measured or estimated


def worker_wait_seconds(pool: PoolEta) -> float:
    """Until some worker can take jobs: none if one works, the rest of a boot, else a whole boot."""
    if pool.working:
        return 0.0
    if pool.booting:
        return max(pool.boot_seconds - pool.booting_for, MIN_BOOT_LEFT_SECONDS)
    return pool.boot_seconds


def eta_seconds(
    state: JobState,
    service_seconds: float,
    depth: QueueDepth | None,
    processing_for: float,
    pool: PoolEta | None = None,
) -> int:
    """Seconds until the job is likely done.

    ``depth`` is the queue's (None when it could not be read); a queued job's
    own message is among the visible ones, so those ahead of it are one fewer.
    ``processing_for`` is how long the job has been processing.
    """
    if state.terminal:
        return 0
    if state is JobState.PROCESSING:
        return max(1, math.ceil(service_seconds - processing_for))
    ahead = max(0, depth.visible - 1) if depth is not None else 0
    if pool is None:
        return math.ceil(service_seconds * (ahead + 1))
    sharing = pool.working or pool.booting or 1
    return math.ceil(worker_wait_seconds(pool) + service_seconds * (ahead // sharing + 1))


def poll_after_seconds(eta: int) -> int:
    """A Retry-After for a pending job: about half the ETA, within 1..15 s."""
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, eta // 2))
