"""What the pool looks like right now, built from what was observed. Pure: no I/O, the time is passed in.

A worker's state comes from two places: EC2 says the instance exists, its
record in S3 says what the worker process is doing. An instance with no
record yet is booting; a record that stopped being refreshed belongs to a
worker that is gone, whatever EC2 still says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import QueueDepth
from jobs.status import parse_iso
from pool.book import LaunchOutcome, Measured, Slot
from pool.ec2 import Instance, iso
from pool.rule import PoolCounts
from pool.settings import PoolSettings

CLAIM_GRACE_SECONDS = 300  # a slot claimed this long ago with no instance seen is a launch that died


class Phase(StrEnum):
    """A worker as the pool sees it."""

    BOOTING = "booting"  # launched; the worker has not reported ready
    READY = "ready"
    BUSY = "busy"
    DRAINING = "draining"
    STOPPED = "stopped"  # the worker stopped or went silent; the instance is on its way out


RECORD_PHASES = {
    WorkerState.STARTING: Phase.BOOTING,
    WorkerState.READY: Phase.READY,
    WorkerState.BUSY: Phase.BUSY,
    WorkerState.DRAINING: Phase.DRAINING,
    WorkerState.STOPPED: Phase.STOPPED,
}


@dataclass(frozen=True)
class Observation:
    """Everything the provider reads before deciding; the reaper and the view both work from it."""

    instances: tuple[Instance, ...]
    records: tuple[WorkerRecord, ...]
    slots: tuple[Slot, ...]
    depth: QueueDepth | None
    last_launch: LaunchOutcome | None
    measured: Measured
    now: datetime


@dataclass(frozen=True)
class Worker:
    instance_id: str
    instance_type: str | None
    lifecycle: str | None  # spot or on-demand
    phase: Phase
    since: str  # when it entered this phase, as well as known
    launched_at: str | None
    job_id: str | None = None
    reason: str | None = None  # why it is draining or stopped

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "instance_type": self.instance_type,
            "lifecycle": self.lifecycle,
            "state": self.phase.value,
            "since": self.since,
            "launched_at": self.launched_at,
            "job_id": self.job_id,
            "reason": self.reason,
        }

    def public_dict(self) -> dict[str, Any]:
        """What anyone may see: no instance id (an EC2 handle) and no job id (a job's capability)."""
        return {
            "instance_type": self.instance_type,
            "lifecycle": self.lifecycle,
            "state": self.phase.value,
            "since": self.since,
        }


@dataclass(frozen=True)
class PoolView:
    name: str
    max_workers: int
    observed_at: str
    depth: QueueDepth | None
    workers: tuple[Worker, ...]
    launching: int  # slots claimed by a launch still in progress
    occupied: int  # what counts against the maximum
    booting_for: float  # seconds since the longest-booting worker was launched (0 when none)
    boot_seconds: float  # launch to ready: measured when known, else the estimate
    service_seconds: float | None  # one job on a worker, measured; None until some worker has done one
    last_launch: LaunchOutcome | None = None
    hours_today: float | None = None  # instance-hours used today (UTC); None when the ledger was not read

    def count(self, phase: Phase) -> int:
        return sum(1 for worker in self.workers if worker.phase is phase)

    @property
    def booting(self) -> int:
        return self.count(Phase.BOOTING) + self.launching

    @property
    def working(self) -> int:
        return self.count(Phase.READY) + self.count(Phase.BUSY)

    def counts(self) -> PoolCounts:
        depth = self.depth or QueueDepth(0, 0)
        return PoolCounts(
            visible=depth.visible,
            in_flight=depth.in_flight,
            ready=self.count(Phase.READY),
            busy=self.count(Phase.BUSY),
            booting=self.booting,
            occupied=self.occupied,
        )


def seconds_between(earlier: str, now: datetime) -> float:
    return max(0.0, (now - parse_iso(earlier)).total_seconds())


def is_stale(record: WorkerRecord, now: datetime, settings: PoolSettings) -> bool:
    return seconds_between(record.updated_at, now) > settings.stale_record_seconds


def slot_instance_ids(slots: tuple[Slot, ...]) -> set[str]:
    return {slot.instance_id for slot in slots if slot.instance_id is not None}


def slot_is_free(slot: Slot, instances: dict[str, Instance], now: datetime) -> bool:
    """A slot whose instance is gone (or whose launch died) no longer counts; it only waits to be deleted."""
    instance = instances.get(slot.instance_id) if slot.instance_id else None
    if instance is None:  # a launch that died, or an instance EC2 no longer lists
        return seconds_between(slot.claimed_at, now) > CLAIM_GRACE_SECONDS
    return not instance.live


def free_slots(seen: Observation) -> list[Slot]:
    instances = {instance.instance_id: instance for instance in seen.instances}
    return [slot for slot in seen.slots if slot_is_free(slot, instances, seen.now)]


def worker_of(instance: Instance, record: WorkerRecord | None, now: datetime, settings: PoolSettings) -> Worker:
    phase, since, reason = phase_of(instance, record, now, settings)
    job_id = record.job_id if record is not None and phase is Phase.BUSY else None
    return Worker(
        instance.instance_id,
        instance.instance_type,
        instance.lifecycle,
        phase,
        since,
        instance.launched_at,
        job_id,
        reason,
    )


def phase_of(
    instance: Instance, record: WorkerRecord | None, now: datetime, settings: PoolSettings
) -> tuple[Phase, str, str | None]:
    """The worker's phase, since when, and why (for draining and stopped)."""
    if instance.state in ("stopping", "stopped"):
        return Phase.STOPPED, instance.launched_at, f"instance {instance.state}"
    if record is None:
        return Phase.BOOTING, instance.launched_at, None
    if is_stale(record, now, settings):
        silent = round(seconds_between(record.updated_at, now))
        return Phase.STOPPED, record.updated_at, record.reason or f"silent for {silent} s"
    phase = RECORD_PHASES[record.state]
    if phase is Phase.BOOTING:
        return phase, instance.launched_at, None
    if phase is Phase.STOPPED:  # its last write
        return phase, record.updated_at, record.reason
    return phase, record.ready_at or record.started_at, record.reason


def unseen_slot_worker(slot: Slot) -> Worker:
    """A slot's instance that EC2 does not list yet (its listing lags a launch): booting."""
    assert slot.instance_id is not None
    return Worker(slot.instance_id, slot.instance_type, slot.lifecycle, Phase.BOOTING, slot.claimed_at, None)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def build_view(seen: Observation, settings: PoolSettings) -> PoolView:
    now = seen.now
    records = {record.instance_id: record for record in seen.records}
    live = [instance for instance in seen.instances if instance.live]
    listed = {instance.instance_id for instance in seen.instances}
    workers = [worker_of(instance, records.get(instance.instance_id), now, settings) for instance in live]
    recent = [slot for slot in seen.slots if seconds_between(slot.claimed_at, now) <= CLAIM_GRACE_SECONDS]
    workers += [unseen_slot_worker(slot) for slot in recent if slot.instance_id and slot.instance_id not in listed]
    launching = sum(1 for slot in recent if slot.instance_id is None)
    orphans = {instance.instance_id for instance in live} - slot_instance_ids(seen.slots)
    booting = [seconds_between(w.since, now) for w in workers if w.phase is Phase.BOOTING]
    booting += [seconds_between(slot.claimed_at, now) for slot in recent if slot.instance_id is None]
    live_records = [records[i.instance_id] for i in live if i.instance_id in records]
    boot = mean([r.boot_seconds for r in live_records if r.boot_seconds is not None]) or seen.measured.boot_seconds
    service = mean([r.service_seconds for r in live_records if r.service_seconds is not None])
    return PoolView(
        name=settings.name,
        max_workers=settings.max_workers,
        observed_at=iso(now),
        depth=seen.depth,
        workers=tuple(sorted(workers, key=lambda worker: worker.instance_id)),
        launching=launching,
        occupied=len(seen.slots) - len(free_slots(seen)) + len(orphans),
        booting_for=max(booting, default=0.0),
        boot_seconds=boot or settings.boot_seconds_estimate,
        service_seconds=service or seen.measured.service_seconds,
        last_launch=seen.last_launch,
    )
