"""Instance-hours used today (UTC), for the daily cap. Pure: no I/O, the time is passed in.

The usage ledger (``ledger``) keeps one entry per launched instance: when it
was launched and, once the pool has seen it gone, when it ended. An entry with
no end yet counts up to now. That is conservative: an instance that stopped
itself is over-counted until the provider or the reaper next observes the pool
and records its end (from the worker's last record when it stopped itself,
else the time it was seen gone), never under-counted.

Instances EC2 lists as live but the ledger does not know (launched before the
cap existed, or more than a day ago and still running) are counted from their
EC2 launch time, so a long-running worker is never missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta

from jobs.pool import WorkerRecord, WorkerState
from jobs.status import parse_iso
from pool.ec2 import Instance, iso


@dataclass(frozen=True)
class Run:
    """One instance's time in the pool: the ledger's entry for it."""

    instance_id: str
    launched_at: str  # ISO 8601
    ended_at: str | None = None  # None while the pool has not seen it gone
    anonymous: bool = False  # launched by a keyless warm: counted against the anonymous budget too

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Run:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})


def utc_day(when: datetime) -> str:
    """The UTC calendar day of ``when``, as the ledger's key names it: YYYY-MM-DD."""
    return when.astimezone(UTC).date().isoformat()


def start_of_day(now: datetime) -> datetime:
    day = now.astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def ledger_days(now: datetime) -> tuple[str, str]:
    """The days whose entries can hold time spent today: today's, and yesterday's (a run across midnight)."""
    return utc_day(now), utc_day(start_of_day(now) - timedelta(seconds=1))


def hours_today(runs: Iterable[Run], now: datetime) -> float:
    """Instance-hours inside today (UTC) up to ``now``: each run clipped to [00:00 UTC, now]."""
    midnight = start_of_day(now)
    seconds = 0.0
    for run in runs:
        begin = max(parse_iso(run.launched_at), midnight)
        end = min(parse_iso(run.ended_at), now) if run.ended_at is not None else now
        seconds += max(0.0, (end - begin).total_seconds())
    return seconds / 3600


def with_unrecorded(runs: Iterable[Run], instances: Iterable[Instance]) -> list[Run]:
    """The ledger's runs plus an open run for each live instance the ledger does not know."""
    known = list(runs)
    ids = {run.instance_id for run in known}
    extra = [Run(i.instance_id, i.launched_at) for i in instances if i.live and i.instance_id not in ids]
    return known + extra


def anonymous_runs(runs: Iterable[Run]) -> list[Run]:
    return [run for run in runs if run.anonymous]


def cap_reached(cap: float, used: float) -> str | None:
    """Why nothing may launch, in plain words; None when no cap is set (0) or some of it is left."""
    if cap <= 0 or used < cap:
        return None
    used_up = f"the daily cap of {cap:g} instance-hours is used up ({used:.1f} h today)"
    return f"{used_up}; no new worker starts before 00:00 UTC"


def ended_at(records: Iterable[WorkerRecord], instance_id: str, now: datetime) -> str:
    """When an instance seen gone ended, as well as known.

    A worker that stopped itself (idle, drained) wrote ``stopped`` and powered
    off at once: its last write. Otherwise the time it was seen gone, which
    counts it a little longer than it ran, never shorter.
    """
    seen = iso(now)
    for record in records:
        if record.instance_id == instance_id and record.state is WorkerState.STOPPED:
            return min(record.updated_at, seen, key=parse_iso)
    return seen
