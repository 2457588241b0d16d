"""The pool's shared vocabulary: the tag that marks its instances and the
record each worker keeps in S3 so the API can see it.

The API learns about workers from two places: EC2 (which instances exist,
found only by the pool tag) and these records (what each worker is doing).
An instance without a record is still booting; a record that stops being
refreshed belongs to a worker that is gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

POOL_TAG = "darkroom:pool"  # every instance the pool launches carries it; only those are counted or terminated
INSTANCE_ID_PATTERN = re.compile(r"i-[0-9a-f]{8,17}")


class WorkerState(StrEnum):
    STARTING = "starting"  # process up, loading the model
    READY = "ready"  # idle, long-polling the queue
    BUSY = "busy"  # running a job
    DRAINING = "draining"  # interruption notice or SIGTERM: takes no new work
    STOPPED = "stopped"  # exited (idle, drained or told to)


def check_instance_id(text: str) -> str:
    if INSTANCE_ID_PATTERN.fullmatch(text) is None:
        raise ValueError(f"not an instance id: {text[:40]!r}")
    return text


def worker_key(instance_id: str) -> str:
    return f"workers/{check_instance_id(instance_id)}.json"


@dataclass(frozen=True)
class WorkerRecord:
    instance_id: str
    state: WorkerState
    started_at: str  # the worker process started (ISO 8601)
    updated_at: str  # refreshed at least every heartbeat while alive
    ready_at: str | None = None  # model loaded and warmed
    boot_seconds: float | None = None  # instance launch to ready, when known
    job_id: str | None = None  # the job it is running, when busy
    jobs_done: int = 0
    service_seconds: float | None = None  # mean time per job so far
    reason: str | None = None  # why it is draining or stopped

    def but(self, **changes: object) -> WorkerRecord:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerRecord:
        data = json.loads(text)
        return cls(**{**data, "state": WorkerState(data["state"])})
