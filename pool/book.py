"""The pool's own state in S3: numbered launch slots and the outcome of the last launch.

The hard maximum lives here. Before launching, a process claims a slot
``pool/slots/{k}.json`` (k < max_workers) with a conditional PUT
(``If-None-Match: *``): S3 lets exactly one writer create a key, so however
many API processes on however many hosts race, at most ``max_workers`` slots
exist, and every instance is launched into a slot it holds. A slot is deleted
when its instance is terminated or found gone, with ``If-Match`` on the ETag
it was read with, so a slot claimed again in between is never deleted.

Other keys under ``pool/``: ``last-launch.json``, ``measured.json`` and the
usage ledger ``hours/{day}/{instance}.json`` (``ledger``). S3 is reached
through ``jobs.bucket``, which raises ``ServiceUnavailable`` for what fails.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass, fields, replace

from jobs.aws import Conflict
from jobs.bucket import Bucket
from pool.ec2 import Launched

SLOT_PREFIX = "pool/slots/"
SLOT_KEY = re.compile(r"pool/slots/(\d{1,4})\.json")
LAST_LAUNCH_KEY = "pool/last-launch.json"
MEASURED_KEY = "pool/measured.json"


def slot_key(index: int) -> str:
    return f"{SLOT_PREFIX}{index}.json"


@dataclass(frozen=True)
class Slot:
    index: int
    claimed_at: str  # ISO 8601; a claim with no instance yet is a launch in progress
    owner: str  # host:pid that claimed it, for people reading the bucket
    instance_id: str | None = None
    instance_type: str | None = None
    lifecycle: str | None = None
    etag: str = ""  # of the object as read or written; never stored in it

    def to_json(self) -> str:
        data = asdict(self)
        del data["etag"]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, etag: str) -> Slot:
        return cls(**json.loads(text), etag=etag)


@dataclass(frozen=True)
class LaunchOutcome:
    at: str
    error: str | None = None  # "InsufficientInstanceCapacity: ..." when nothing could be launched
    capacity: bool = False  # the error says there was no capacity (rather than a broken template, ...)
    capped: bool = False  # nothing was tried: the daily instance-hours cap is used up

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> LaunchOutcome:
        """Fields this version does not know (written by a newer one) are ignored."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})


@dataclass(frozen=True)
class Measured:
    """Boot and service times measured by workers that have since gone (their records go with them)."""

    boot_seconds: float | None = None
    service_seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Measured:
        return cls(**json.loads(text))


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PoolBook:
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def slots(self) -> list[Slot]:
        keys = [key for key in self.bucket.keys(SLOT_PREFIX) if SLOT_KEY.fullmatch(key)]
        found = (self.bucket.find(key) for key in keys)  # None: released since it was listed
        slots = (Slot.from_json(stored.body, stored.etag) for stored in found if stored is not None)
        return sorted(slots, key=lambda slot: slot.index)

    def claim(self, index: int, now: str) -> Slot | None:
        """Create slot ``index`` if nobody holds it; None when it is taken."""
        return self._write(Slot(index=index, claimed_at=now, owner=owner()), create=True)

    def assign(self, slot: Slot, launched: Launched) -> Slot | None:
        """Write the instance launched into a slot this process claimed; None if the claim was lost meanwhile."""
        held = replace(
            slot, instance_id=launched.instance_id, instance_type=launched.instance_type, lifecycle=launched.lifecycle
        )
        return self._write(held, if_match=slot.etag)

    def _write(self, slot: Slot, if_match: str = "", create: bool = False) -> Slot | None:
        """A conditional PUT of a slot; None when the condition did not hold (another process has the slot)."""
        try:
            etag = self.bucket.write(slot_key(slot.index), slot.to_json().encode(), if_match=if_match, create=create)
        except Conflict:
            return None
        return replace(slot, etag=etag)

    def release(self, slot: Slot) -> bool:
        """Delete a slot as it was read (If-Match), so a newer claim on the same number survives."""
        try:
            self.bucket.delete(slot_key(slot.index), if_match=slot.etag)
        except Conflict:  # claimed again since it was read, or already gone
            return False
        return True

    def last_launch(self) -> LaunchOutcome | None:
        found = self.bucket.find(LAST_LAUNCH_KEY)
        return None if found is None else LaunchOutcome.from_json(found.body)

    def record_launch(self, outcome: LaunchOutcome) -> None:
        self.bucket.write(LAST_LAUNCH_KEY, outcome.to_json().encode())

    def measured(self) -> Measured:
        found = self.bucket.find(MEASURED_KEY)
        return Measured() if found is None else Measured.from_json(found.body)

    def record_measured(self, measured: Measured) -> None:
        self.bucket.write(MEASURED_KEY, measured.to_json().encode())
