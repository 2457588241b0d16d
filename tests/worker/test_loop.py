"""The worker loop in this process, against a real moto server."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from darkroom.dng import XTRANS, synthetic_dark_dng, synthetic_dark_linear_dng
from jobs.ids import result_key, upload_key
from jobs.message import InputKind, JobMessage
from jobs.status import JobState, iso_now
from tests.worker.conftest import CountingBaseline, Parts, dark_jpeg
from worker.frames import SrgbFrame
from worker.heartbeat import Heartbeat
from worker.settings import WorkerSettings


def test_a_raw_job_goes_from_queued_to_done_with_a_brighter_result(parts: Parts) -> None:
    dng = synthetic_dark_dng(128, 192, exposure=1 / 100)
    job_id = parts.submit(dng, "dng", InputKind.RAW, ratio=100.0)
    parts.worker().run(max_jobs=1)

    status = parts.status(job_id)
    assert status.state is JobState.DONE, status
    assert list(status.stages) == ["queued", "processing", "done"]
    assert status.worker == "test-worker" and status.attempts == 1 and status.ratio_used == 100.0
    assert status.result is not None and (status.result.width, status.result.height) == (192, 128)
    jpeg = parts.store.get(result_key(job_id))
    assert jpeg is not None and len(jpeg) == status.result.bytes
    assert np.asarray(Image.open(io.BytesIO(jpeg))).mean() > 60  # the input renders near black
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0


@pytest.mark.parametrize(
    "raw",
    [synthetic_dark_dng(600, 720, exposure=1 / 100, pattern=XTRANS), synthetic_dark_linear_dng(600, 720, 1 / 100)],
    ids=["x-trans", "linear-dng"],
)
def test_a_raw_without_a_bayer_mosaic_is_rendered_through_the_srgb_path(parts: Parts, raw: bytes) -> None:
    job_id = parts.submit(raw, "dng", InputKind.RAW, ratio=100.0)
    parts.worker().run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.DONE, status
    assert parts.enhancer.calls == ["srgb"] and status.method == "baseline"
    assert status.result is not None and (status.result.width, status.result.height) == (720, 600)
    jpeg = parts.store.get(result_key(job_id))
    assert jpeg is not None and np.asarray(Image.open(io.BytesIO(jpeg))).mean() > 60  # brightened


def test_a_second_delivery_of_a_done_job_is_acknowledged_without_recomputing(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.worker().run(max_jobs=1)
    assert parts.status(job_id).state is JobState.DONE
    assert parts.enhancer.calls == ["srgb"]
    done_at = parts.status(job_id).updated_at

    parts.queue.send(JobMessage(job_id, upload_key(job_id, "jpg"), InputKind.SRGB, None, iso_now()))
    parts.worker().run(max_jobs=1)
    assert parts.enhancer.calls == ["srgb"]  # not run again
    assert parts.status(job_id).updated_at == done_at
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0


def test_a_corrupt_input_fails_at_once_with_a_readable_message(parts: Parts) -> None:
    job_id = parts.submit(b"\xff\xd8\xff\xe0 this is not really a JPEG", "jpg", InputKind.SRGB)
    parts.worker().run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.FAILED
    assert status.error is not None and status.error.code == "corrupt-input" and len(status.error.message) > 10
    assert status.attempts == 1  # not retried
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0
    assert parts.dead_letters.depth().visible == 0


def test_a_message_of_an_unknown_version_is_returned_then_dead_lettered_and_its_job_failed(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    newer = parts.queue.receive(wait_seconds=1)
    assert newer is not None
    parts.queue.delete(newer)
    body = json.loads(newer.body)
    body["version"] = 99
    parts.queue.sqs.send_message(QueueUrl=parts.queue.url, MessageBody=json.dumps(body))

    worker = parts.worker()
    worker.run(max_jobs=2)  # max_receives is 2: returned twice, then SQS moves it to the DLQ
    assert parts.enhancer.calls == []
    assert parts.queue.receive(wait_seconds=1) is None  # this third receive moved it to the DLQ
    assert worker.sweep_dead_letters() == 1
    status = parts.status(job_id)
    assert status.state is JobState.FAILED and status.error is not None
    assert status.error.code == "worker-crashed"
    assert parts.dead_letters.depth().in_flight == 1  # kept for an operator, hidden from the next sweeps


def test_jobs_whose_worker_died_end_failed_through_the_dead_letter_queue(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    for _ in range(2):  # two deliveries that were never finished, as when a worker is killed mid-job
        delivery = parts.queue.receive(wait_seconds=1)
        assert delivery is not None
        parts.queue.set_visibility(delivery, 0)
    assert parts.queue.receive(wait_seconds=1) is None  # the third receive moved it to the DLQ
    worker = parts.worker()
    assert worker.sweep_dead_letters() == 1
    assert parts.status(job_id).state is JobState.FAILED
    assert worker.sweep_dead_letters() == 0  # already marked


def test_the_workers_pixel_limit_reaches_decode(parts: Parts) -> None:
    """DARKROOM_MAX_PIXELS read by the worker refuses a picture over it, at once, saying the limit."""
    limit = WorkerSettings.from_env({"DARKROOM_MAX_PIXELS": "10000"}).max_pixels
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)  # 160x120: 19,200 pixels
    parts.worker(max_pixels=limit).run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.FAILED and status.error is not None, status
    assert status.error.code == "too-large" and "the limit is 0.01 megapixels" in status.error.message
    assert parts.enhancer.calls == [] and status.attempts == 1


def test_an_upload_that_vanished_fails_the_job(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.store.bucket.delete(upload_key(job_id, "jpg"))
    parts.worker().run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.FAILED and status.error is not None and status.error.code == "upload-missing"


def test_the_heartbeat_keeps_a_long_job_invisible_and_stops_when_the_job_ends(parts: Parts) -> None:
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    delivery = parts.queue.receive(wait_seconds=1)
    assert delivery is not None
    parts.queue.set_visibility(delivery, 2)
    with Heartbeat(parts.queue, delivery, lease_seconds=2, interval=0.5) as beat:
        time.sleep(3.5)  # longer than the 2 s lease
        assert parts.queue.receive(wait_seconds=0) is None
    assert beat.beats >= 5
    assert parts.queue.receive(wait_seconds=4) is not None  # after the last lease runs out, it is back


def test_the_heartbeat_stops_at_the_jobs_time_limit(parts: Parts) -> None:
    """A job that hangs where nothing can kill it lets its message go back once the time limit has passed."""
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    delivery = parts.queue.receive(wait_seconds=1)
    assert delivery is not None
    parts.queue.set_visibility(delivery, 2)
    with Heartbeat(parts.queue, delivery, lease_seconds=2, interval=0.5, max_seconds=1.0) as beat:
        assert parts.queue.receive(wait_seconds=6) is not None  # back while the heartbeat's job still runs
    assert 1 <= beat.beats <= 2


def test_a_worker_that_ran_past_its_lease_does_not_overwrite_the_worker_that_took_over(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    store = parts.store

    class TakenOverMidJob(CountingBaseline):
        """The real baseline; while it runs, a second worker takes the job over (as after a lost lease)."""

        def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
            current = store.read_status(job_id)
            assert current is not None
            store.write_status(current.processing("second-worker", attempt=2, now=iso_now()))
            return super().enhance_srgb(frame, ratio)

    parts.enhancer = TakenOverMidJob()
    parts.worker().run(max_jobs=1)
    status = parts.status(job_id)
    assert status.state is JobState.PROCESSING and status.worker == "second-worker"  # not overwritten with done
    assert parts.queue.depth().in_flight == 1  # the message is left to the worker that has it
