"""The Lambda handler against a real moto server: the batches the event source mapping would hand it."""

from __future__ import annotations

import json
import time

import numpy as np

from darkroom.dng import synthetic_dark_dng
from darkroom.local.event_source import RemainingTime, event_of
from jobs.ids import result_key
from jobs.message import WARM_UP_EVENT, InputKind
from jobs.status import JobState
from tests.worker.conftest import CountingBaseline, Parts, dark_jpeg
from worker.frames import SrgbFrame
from worker.function import JobFunction
from worker.settings import WorkerSettings


def function_of(parts: Parts, enhancer: object | None = None, **overrides: object) -> JobFunction:
    fields: dict[str, object] = {
        "aws": parts.aws,
        "worker_id": "lambda:test",
        "lease_seconds": 30,
        "heartbeat_seconds": 10.0,
        "retry_base_seconds": 0.0,
        "notice_margin_seconds": 2.0,
    }
    settings = WorkerSettings(**{**fields, **overrides})  # type: ignore[arg-type]
    return JobFunction(settings, parts.store, parts.queue, parts.dead_letters, enhancer or parts.enhancer)  # type: ignore[arg-type]


def batch_of(parts: Parts, count: int) -> dict[str, object]:
    """``count`` messages received as the mapping receives them, as its event."""
    messages = parts.queue.sqs.receive_message(
        QueueUrl=parts.queue.url, MaxNumberOfMessages=count, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == count
    return event_of(messages, "arn:aws:sqs:us-east-1:123456789012:jobs", "us-east-1")


def test_a_batch_runs_each_job_and_reports_only_the_record_to_retry(parts: Parts) -> None:
    raw = parts.submit(synthetic_dark_dng(64, 96, exposure=1 / 100), "dng", InputKind.RAW, ratio=100.0)
    corrupt = parts.submit(b"\xff\xd8\xff\xe0 not really a JPEG", "jpg", InputKind.SRGB)
    parts.queue.sqs.send_message(QueueUrl=parts.queue.url, MessageBody='{"version": 99}')  # for a newer worker
    event = batch_of(parts, 3)
    unreadable = next(r["messageId"] for r in event["Records"] if r["body"] == '{"version": 99}')  # type: ignore[attr-defined]

    reply = function_of(parts).handle(event, RemainingTime.starting_now(120))

    assert reply == {"batchItemFailures": [{"itemIdentifier": unreadable}]}
    done = parts.status(raw)
    assert done.state is JobState.DONE and done.worker == "lambda:test" and done.result is not None
    assert parts.store.get(result_key(raw)) is not None
    failed = parts.status(corrupt)
    assert failed.state is JobState.FAILED and failed.error is not None and failed.error.code == "corrupt-input"
    depth = parts.queue.depth()  # the two settled records are gone; the one to retry waits for its backoff
    assert depth.visible + depth.in_flight == 1


def test_a_record_that_cannot_start_before_the_time_limit_goes_back_untouched(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    event = batch_of(parts, 1)

    reply = function_of(parts).handle(event, RemainingTime.starting_now(1.0))  # under the 2 s margin

    assert reply == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}  # type: ignore[index]
    assert parts.enhancer.calls == []
    assert parts.status(job_id).state is JobState.QUEUED
    assert parts.queue.depth().visible == 1  # handed back at once, not after the visibility timeout


class SlowBaseline(CountingBaseline):
    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        time.sleep(6.0)
        return super().enhance_srgb(frame, ratio)


def test_a_job_running_into_the_time_limit_is_handed_back_before_it(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    event = batch_of(parts, 1)

    # 4 s left and a 2 s margin: the job (6 s) is handed back while it runs, its result discarded
    reply = function_of(parts, SlowBaseline()).handle(event, RemainingTime.starting_now(4.0))

    assert reply == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}  # type: ignore[index]
    status = parts.status(job_id)
    assert status.state is JobState.QUEUED and "handed back" in (status.note or "")
    assert parts.store.get(result_key(job_id)) is None
    assert parts.queue.depth().visible == 1


def test_the_model_is_loaded_once_and_kept_across_invocations(parts: Parts) -> None:
    function = function_of(parts)
    for _ in range(2):
        job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
        assert function.handle(batch_of(parts, 1), RemainingTime.starting_now(60)) == {"batchItemFailures": []}
        assert parts.status(job_id).state is JobState.DONE
    assert function.runner.enhancer is parts.enhancer and parts.enhancer.calls == ["srgb", "srgb"]


def test_the_pages_warm_up_invocation_returns_at_once_and_touches_no_queue(parts: Parts) -> None:
    """What the API's pre-warm invokes (pool/switch.py): the init phase loaded the model; nothing else to do."""
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    dead_letters = parts.dead_letters
    dead_letters.sqs.send_message(QueueUrl=dead_letters.url, MessageBody=json.dumps({"id": job_id}))
    function = function_of(parts)
    event = json.loads(json.dumps(WARM_UP_EVENT))  # as Lambda hands the invoke's payload to the handler

    assert function.handle(event, RemainingTime.starting_now(60)) == {"batchItemFailures": []}
    assert parts.enhancer.calls == [] and function.runner.done == 0
    assert parts.status(job_id).state is JobState.QUEUED  # not even the batch's dead-letter sweep ran
    for queue in (parts.queue, dead_letters):
        depth = queue.depth()
        assert (depth.visible, depth.in_flight) == (1, 0)  # never received
