"""The status document: one JSON object per job in S3, the job's only state.

queued -> processing -> done | failed. Each state records when it was first
entered; a failed job carries an error code and a message a person can read.
Transitions are pure: they take the time as an argument and return a new
document.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from jobs.ids import check_job_id
from jobs.message import InputKind


class JobState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"  # by its client while queued: it never runs, and its input is deleted

    @property
    def terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELED)


@dataclass(frozen=True)
class JobError:
    code: str  # stable, machine-readable: "corrupt-input", "worker-crashed", ...
    message: str  # for a person


@dataclass(frozen=True)
class WebhookOutcome:
    """How the job's callback went: recorded in the status, never a reason to fail the job."""

    delivered: bool
    attempts: int
    at: str  # when the last attempt ended
    error: str | None = None  # why the last attempt failed


@dataclass(frozen=True)
class JobResult:
    key: str
    width: int
    height: int
    bytes: int


def iso_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    state: JobState
    kind: InputKind
    ratio: float | None  # as requested; None is 'auto'
    created_at: str
    updated_at: str
    stages: dict[str, str] = field(default_factory=dict)  # state -> when first entered
    attempts: int = 0
    worker: str | None = None
    ratio_used: float | None = None
    method: str | None = None
    note: str | None = None  # why a job waits or was retried, in words
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    result: JobResult | None = None
    error: JobError | None = None
    callback_url: str | None = None  # POSTed the job's document when it ends (jobs.webhook)
    webhook: WebhookOutcome | None = None
    owner: str | None = None  # the SHA-256 of the API key that made the job; None: made without a key
    decode_failures: int = 0  # attempts whose decode hung or crashed (worker/isolate.py)

    @classmethod
    def new(
        cls,
        job_id: str,
        kind: InputKind,
        ratio: float | None,
        now: str,
        callback_url: str | None = None,
        owner: str | None = None,
    ) -> JobStatus:
        return cls(
            job_id=check_job_id(job_id),
            callback_url=callback_url,
            owner=owner,
            state=JobState.QUEUED,
            kind=kind,
            ratio=ratio,
            created_at=now,
            updated_at=now,
            stages={JobState.QUEUED.value: now},
        )

    def _enter(self, state: JobState, now: str, **changes: Any) -> JobStatus:
        stages = dict(self.stages)
        stages.setdefault(state.value, now)
        return replace(self, state=state, updated_at=now, stages=stages, **changes)

    def processing(self, worker: str, attempt: int, now: str) -> JobStatus:
        return self._enter(JobState.PROCESSING, now, worker=worker, attempts=attempt, note=None)

    def requeued(self, note: str, now: str) -> JobStatus:
        """Back to waiting after a transient failure; the queue will retry it."""
        return self._enter(JobState.QUEUED, now, note=note)

    def done(self, result: JobResult, ratio_used: float, method: str, timings: dict[str, float], now: str) -> JobStatus:
        return self._enter(
            JobState.DONE, now, result=result, ratio_used=ratio_used, method=method, timings=timings, note=None
        )

    def failed(self, error: JobError, now: str) -> JobStatus:
        return self._enter(JobState.FAILED, now, error=error, note=None)

    def redriven(self, note: str, now: str) -> JobStatus:
        """Queued again by an operator after it failed: the error is cleared, its stages are kept."""
        return self._enter(JobState.QUEUED, now, note=note, error=None, result=None)

    def canceled(self, now: str) -> JobStatus:
        return self._enter(JobState.CANCELED, now, note="canceled by its client; its input was deleted")

    def with_webhook(self, outcome: WebhookOutcome) -> JobStatus:
        """Record a callback's outcome; the job's state and times stay as they were."""
        return replace(self, webhook=outcome)

    def to_dict(self) -> dict[str, Any]:
        """Without the callback and owner fields when they are unset, so such jobs read as before."""
        data = asdict(self)
        for name in ("callback_url", "webhook", "owner"):
            if data[name] is None:
                del data[name]
        return data

    def public_document(self) -> dict[str, Any]:
        """What a client may see of the job (no S3 keys, callback URL, owner): the API's answer, a webhook's body."""
        result, error = self.result, self.error
        size = None if result is None else {"width": result.width, "height": result.height, "bytes": result.bytes}
        return {
            "id": self.job_id,
            "status": self.state.value,
            "kind": self.kind.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "stages": self.stages,
            "attempts": self.attempts,
            "worker": self.worker,
            "ratio": "auto" if self.ratio is None else self.ratio,
            "ratio_used": self.ratio_used,
            "method": self.method,
            "result": size,
            "error": None if error is None else {"code": error.code, "message": error.message},
            "webhook": None if self.webhook is None else asdict(self.webhook),  # a refused callback shows here
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> JobStatus:
        data = json.loads(text)
        result = data.pop("result", None)
        error = data.pop("error", None)
        webhook = data.pop("webhook", None)
        return cls(
            **{**data, "state": JobState(data["state"]), "kind": InputKind(data["kind"])},
            result=JobResult(**result) if result else None,
            error=JobError(**error) if error else None,
            webhook=WebhookOutcome(**webhook) if webhook else None,
        )
