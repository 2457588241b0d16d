"""How long a job will take and how soon a client should ask again: one small pure estimate.

Deliberately simple for now: every job is assumed to take the same service
time, and the queue is assumed to drain one job at a time.
"""

from __future__ import annotations

import math

from jobs.queue import QueueDepth
from jobs.status import JobState

MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 5


def eta_seconds(state: JobState, service_seconds: float, depth: QueueDepth | None, processing_for: float) -> int:
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
    return math.ceil(service_seconds * (ahead + 1))


def poll_after_seconds(eta: int) -> int:
    """A Retry-After for a pending job: about half the ETA, within 1..5 s."""
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, eta // 2))
