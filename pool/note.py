"""Why a queued job waits, in words a person can act on. Pure."""

from __future__ import annotations

from pool.book import LaunchOutcome
from pool.view import Phase, PoolView


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


NO_CAPACITY = "no capacity: EC2 has no room for the pool's instance types right now"
CANNOT_LAUNCH = "cannot launch a worker: the service's launch failed (its operators can see why in the logs)"


def launch_failure(outcome: LaunchOutcome | None) -> str | None:
    """Why the last launch started nothing, in words fit for anyone: the daily cap (its own words), no
    capacity, or a fault. EC2's own text (account ids, ARNs, template names) stays in the logs and the
    operator's pool view."""
    if outcome is None or outcome.error is None:
        return None
    if outcome.capped:
        return outcome.error  # written by pool.hours.cap_reached, not by AWS
    return NO_CAPACITY if outcome.capacity else CANNOT_LAUNCH


def waiting_note(view: PoolView, ahead: int) -> str | None:
    """A queued job's note; None when a ready worker will pick it up shortly.

    ``ahead`` is about how many jobs wait before this one.
    """
    ready, busy, booting = view.count(Phase.READY), view.count(Phase.BUSY), view.booting
    parts = []
    if busy and not ready:
        every = "the worker is busy" if busy == 1 else f"all {busy} workers busy"
        parts.append(f"{every}; about {plural(ahead, 'job')} ahead")
    if booting:
        starting = "a worker" if booting == 1 else f"{booting} workers"
        parts.append(f"starting {starting} (booting for {round(view.booting_for)} s)")
    failed = launch_failure(view.last_launch)
    if not view.working and not booting and failed:
        parts.append(failed)
    if not parts and not view.working:
        full = view.occupied >= view.max_workers
        parts.append("waiting for a worker to stop so another can start" if full else "waiting for a worker")
    return "; ".join(parts) or None
