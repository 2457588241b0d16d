"""The reaper's plan: which instances to terminate and which records and slots to forget. Pure.

An instance is terminated when it never became ready within the boot timeout,
when its worker went silent (its record is stale: crashed, or stopped but the
instance did not power off), or when EC2 stopped it. Records and slots of
instances that are gone are deleted, so their slots can be launched into
again; the boot and service times those records measured are kept. Once the
daily cap is used up, every worker that is not busy is terminated as well:
the cap stops running workers, not only launches, and never cuts a job off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.pool import WorkerRecord, WorkerState
from pool.book import Measured, Slot
from pool.ec2 import Instance
from pool.settings import PoolSettings
from pool.view import Observation, free_slots, is_stale, seconds_between

EWMA_WEIGHT = 0.3  # how much one departed worker moves the remembered times


@dataclass(frozen=True)
class Reaping:
    terminate: tuple[tuple[Instance, str], ...]  # with the reason, for the log
    forget: tuple[WorkerRecord, ...]  # records of workers that are gone
    free: tuple[Slot, ...]  # slots to release (as read: released only if unchanged)

    @property
    def empty(self) -> bool:
        return not (self.terminate or self.forget or self.free)


def why_terminate(instance: Instance, record: WorkerRecord | None, now: datetime, settings: PoolSettings) -> str | None:
    if instance.state == "stopped":
        return "the instance is stopped"
    if instance.state not in ("pending", "running"):
        return None
    age = seconds_between(instance.launched_at, now)
    if (record is None or record.ready_at is None) and age > settings.boot_timeout_seconds:
        return f"not ready {round(age)} s after launch"
    if record is not None and is_stale(record, now, settings):
        return f"its worker has been silent for {round(seconds_between(record.updated_at, now))} s"
    return None


def is_busy(record: WorkerRecord | None) -> bool:
    return record is not None and record.state is WorkerState.BUSY


def plan_reaping(seen: Observation, settings: PoolSettings, capped: str | None = None) -> Reaping:
    """``capped``: why the daily cap is used up (pool.hours.cap_reached), None while some is left."""
    now = seen.now
    records = {record.instance_id: record for record in seen.records}
    instances = {instance.instance_id: instance for instance in seen.instances}
    terminate = []
    for instance in seen.instances:
        record = records.get(instance.instance_id)
        why = why_terminate(instance, record, now, settings)
        if why is None and capped and instance.live and not is_busy(record):
            why = capped
        if why is not None:
            terminate.append((instance, why))
    gone = {instance.instance_id for instance in seen.instances if not instance.live}
    forget = [
        record
        for record in seen.records
        if record.instance_id in gone or (record.instance_id not in instances and is_stale(record, now, settings))
    ]
    return Reaping(tuple(terminate), tuple(forget), tuple(free_slots(seen)))


def ewma(old: float | None, values: Sequence[float]) -> float | None:
    for value in values:
        old = value if old is None else (1 - EWMA_WEIGHT) * old + EWMA_WEIGHT * value
    return old


def remember(measured: Measured, departed: Sequence[WorkerRecord]) -> Measured:
    """Fold the times measured by departed workers into what the pool remembers."""
    boots = [record.boot_seconds for record in departed if record.boot_seconds is not None]
    services = [record.service_seconds for record in departed if record.service_seconds is not None]
    return Measured(ewma(measured.boot_seconds, boots), ewma(measured.service_seconds, services))
