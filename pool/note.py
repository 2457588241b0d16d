"""Why a queued job waits, in words a person can act on. Pure."""

from __future__ import annotations

from pool.book import LaunchOutcome
from pool.view import Phase, PoolView


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def launch_failure(outcome: LaunchOutcome | None, error: str) -> str:
    """Why the last launch started nothing: the daily cap (its own words), no capacity, or a fault."""
    if outcome is not None and outcome.capped:
        return error
    return f"no capacity: {error}" if outcome is not None and outcome.capacity else f"cannot launch a worker: {error}"


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
    failed = view.last_launch.error if view.last_launch is not None else None
    if not view.working and not booting and failed:
        parts.append(launch_failure(view.last_launch, failed))
    if not parts and not view.working:
        full = view.occupied >= view.max_workers
        parts.append("waiting for a worker to stop so another can start" if full else "waiting for a worker")
    return "; ".join(parts) or None
