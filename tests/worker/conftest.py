"""Shared pieces of the worker tests: the real enhancer with a call counter, a worker wired to a
real moto server, and one on a spot instance (a fake IMDS, and a store that keeps every record written)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from darkroom.local.imds import FakeImds, InstanceIdentity
from jobs.aws import s3_client, sqs_client
from jobs.message import InputKind
from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobStatus
from jobs.store import JobStore
from jobs.submit import submit_job
from worker.baseline import Baseline
from worker.frames import RawFrame, SrgbFrame
from worker.loop import Worker
from worker.metrics import MetricsSink
from worker.settings import WorkerSettings
from worker.startup import find_instance

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@dataclass
class CountingBaseline:
    """The real baseline, counting how often it runs."""

    name: str = "baseline"
    calls: list[str] = field(default_factory=list)
    inner: Baseline = field(default_factory=Baseline)

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        self.calls.append("raw")
        return self.inner.enhance_raw(frame, ratio)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        self.calls.append("srgb")
        return self.inner.enhance_srgb(frame, ratio)


@dataclass
class Parts:
    aws: AwsSettings
    store: JobStore
    queue: JobQueue
    dead_letters: JobQueue
    enhancer: CountingBaseline

    @classmethod
    def of(cls, aws: AwsSettings, s3: S3Client | None = None, sqs: SQSClient | None = None) -> Parts:
        """The worker's parts on ``aws``'s bucket and queues, through the given clients or new ones."""
        s3 = s3 if s3 is not None else s3_client(aws)
        sqs = sqs if sqs is not None else sqs_client(aws)
        queues = JobQueue.named(sqs, aws.queue), JobQueue.named(sqs, aws.dead_letter_queue)
        return cls(aws, JobStore(s3, aws.bucket), *queues, CountingBaseline())

    def worker(self, metrics: MetricsSink | None = None, **overrides: object) -> Worker:
        fields: dict[str, object] = {
            "aws": self.aws,
            "worker_id": "test-worker",
            "wait_seconds": 1,
            "lease_seconds": 30,
            "heartbeat_seconds": 10.0,
            "retry_base_seconds": 0.0,
            "dead_letter_sweep_seconds": 0.0,
        }
        settings = WorkerSettings(**{**fields, **overrides})  # type: ignore[arg-type]
        return Worker(settings, self.store, self.queue, self.dead_letters, self.enhancer, metrics=metrics)

    def submit(self, data: bytes, ext: str, kind: InputKind, ratio: float | None = None) -> str:
        return submit_job(self.store, self.queue, data, ext, "application/octet-stream", kind, ratio).job_id

    def status(self, job_id: str) -> JobStatus:
        status = self.store.read_status(job_id)
        assert status is not None
        return status


@pytest.fixture
def parts(aws: AwsSettings) -> Parts:
    return Parts.of(aws)


def dark_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 20, size=(120, 160, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


INSTANCE_ID = "i-0abc1234def567890"


class RecordingStore(JobStore):
    """The real store (writes go to moto), keeping every worker record it writes, in order."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.records: list[WorkerRecord] = []

    def write_worker(self, record: WorkerRecord) -> None:
        self.records.append(record)
        super().write_worker(record)

    def states(self) -> list[WorkerState]:
        """The states written, with refreshes (repeats) left out."""
        states = [r.state for r in self.records]
        return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


@dataclass
class GatedBaseline(CountingBaseline):
    """The real baseline; ``during_job`` runs inside the enhancement, while the job's message is held."""

    during_job: Callable[[], None] = lambda: None

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        self.during_job()
        return super().enhance_srgb(frame, ratio)


@dataclass
class Instance:
    aws: AwsSettings
    imds: FakeImds
    store: RecordingStore
    queue: JobQueue
    dead_letters: JobQueue
    enhancer: GatedBaseline = field(default_factory=GatedBaseline)

    def worker(self, on_instance: bool = True, **overrides: object) -> Worker:
        fields: dict[str, object] = {
            "aws": self.aws,
            "worker_id": "spot-worker",
            "wait_seconds": 1,
            "lease_seconds": 30,
            "heartbeat_seconds": 10.0,
            "retry_base_seconds": 0.0,
            "dead_letter_sweep_seconds": 0.0,
            "imds_url": self.imds.url if on_instance else "",
            "idle_seconds": 0.0,
            "notice_poll_seconds": 0.2,
            "notice_margin_seconds": 15.0,
        }
        settings = WorkerSettings(**{**fields, **overrides})  # type: ignore[arg-type]
        metadata, recorder = find_instance(settings, self.store, time.time())
        return Worker(
            settings, self.store, self.queue, self.dead_letters, self.enhancer, recorder=recorder, metadata=metadata
        )

    def submit(self) -> str:
        return submit_job(self.store, self.queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, None).job_id

    def status(self, job_id: str) -> JobStatus:
        status = self.store.read_status(job_id)
        assert status is not None
        return status

    def stored_record(self) -> WorkerRecord:
        (record,) = self.store.read_workers()
        return record


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@pytest.fixture
def instance(aws: AwsSettings) -> Iterator[Instance]:
    sqs = sqs_client(aws)
    with FakeImds(InstanceIdentity(INSTANCE_ID)) as imds:
        yield Instance(
            aws=aws,
            imds=imds,
            store=RecordingStore(s3_client(aws), aws.bucket),
            queue=JobQueue.named(sqs, aws.queue),
            dead_letters=JobQueue.named(sqs, aws.dead_letter_queue),
        )
