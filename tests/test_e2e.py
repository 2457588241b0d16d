"""The whole path with real processes: moto, the API under uWSGI, worker processes.

This is what ``make run`` starts (darkroom.local.stack.LocalStack), on free ports.
"""

from __future__ import annotations

import io
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
import tifffile
from PIL import Image

from darkroom.dng import synthetic_dark_dng, synthetic_dark_srgb
from darkroom.local.aws import free_port
from darkroom.local.config import StackConfig
from darkroom.local.stack import LocalStack
from jobs.aws import s3_client, sqs_client
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from tests.api.conftest import post_to_storage
from tests.support.png16 import png16

pytestmark = pytest.mark.slow


def start_stack(workers: int, **env: str) -> LocalStack:
    suffix = uuid.uuid4().hex[:8]  # moto's state is per process, shared by every server it runs: keep names apart
    config = StackConfig(
        aws=AwsSettings(bucket=f"darkroom-{suffix}", queue=f"jobs-{suffix}", dead_letter_queue=f"dlq-{suffix}"),
        api_port=free_port(),
        moto_port=free_port(),
        method="baseline",  # the stack's behaviour, not a model's: seconds per job on a CPU
        workers=workers,
        api_processes=2,
        wait_seconds=1,
        lease_seconds=3,
        max_receives=2,
        extra_env={"DARKROOM_DLQ_SWEEP_SECONDS": "0", "DARKROOM_RETRY_BASE_SECONDS": "1", **env},
    )
    stack = LocalStack(config)
    stack.start()
    return stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    stack = start_stack(workers=1, DARKROOM_MAX_UPLOAD_BYTES=str(8 * 1024 * 1024))
    yield stack
    stack.stop()


@pytest.fixture
def idle_stack() -> Iterator[LocalStack]:
    """A stack with no worker: the test starts and kills workers itself."""
    stack = start_stack(workers=0)
    yield stack
    stack.stop()


def dark_jpeg(width: int = 1152, height: int = 864, exposure: float = 1 / 100) -> bytes:
    """About one megapixel, 100x too dark."""
    buf = io.BytesIO()
    Image.fromarray(synthetic_dark_srgb(height, width, exposure)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def submit(stack: LocalStack, data: bytes, filename: str, ratio: str = "auto") -> dict[str, Any]:
    reply = requests.post(
        f"{stack.config.api_url}/v1/jobs", files={"image": (filename, data)}, data={"ratio": ratio}, timeout=30
    )
    assert reply.status_code == 202, reply.text
    assert reply.headers["Location"].endswith(f"/v1/jobs/{reply.json()['id']}")
    body: dict[str, Any] = reply.json()
    return body


def poll(stack: LocalStack, job_id: str, until: set[str], timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(f"{stack.config.api_url}/v1/jobs/{job_id}", timeout=10)
        assert reply.status_code == 200, reply.text
        status: dict[str, Any] = reply.json()
        if status["status"] in until:
            return status
        assert time.monotonic() < deadline, f"job stuck at {status}"
        time.sleep(0.05)


def mean_brightness(jpeg: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).mean())


@pytest.mark.parametrize(
    ("filename", "make"), [("dark.dng", lambda: synthetic_dark_dng(768, 1152)), ("dark.jpg", dark_jpeg)]
)
def test_a_dark_photo_comes_back_brighter(stack: LocalStack, filename: str, make: Any) -> None:
    data = make()
    job = submit(stack, data, filename)
    assert job["status"] == "queued"
    status = poll(stack, job["id"], {"done", "failed"})
    assert status["status"] == "done", status
    assert status["ratio_used"] > 5  # chosen automatically
    result = requests.get(f"{stack.config.api_url}/v1/jobs/{job['id']}/result", timeout=30)  # follows the 303
    assert result.status_code == 200 and result.content[:3] == b"\xff\xd8\xff"
    assert (status["result"]["width"], status["result"]["height"]) == Image.open(io.BytesIO(result.content)).size
    assert mean_brightness(result.content) > 70
    if filename.endswith(".jpg"):
        assert mean_brightness(result.content) > 4 * mean_brightness(data)


def test_a_16_bit_png_sent_straight_to_storage_comes_back_as_a_16_bit_tiff(stack: LocalStack) -> None:
    ramp = np.tile(np.arange(0, 2048, 4, dtype=np.uint16)[None, :, None], (32, 1, 3))  # 512 levels in 8 of 8 bits
    data, api = png16(ramp), stack.config.api_url
    upload = requests.post(f"{api}/v1/uploads", json={"filename": "scan.png", "size": len(data)}, timeout=30).json()
    post_to_storage(upload, data)
    reply = requests.post(
        f"{api}/v1/jobs", json={"upload_id": upload["id"], "format": "tiff16", "ratio": 8}, timeout=30
    )
    assert reply.status_code == 202, reply.text
    assert poll(stack, upload["id"], {"done", "failed"})["status"] == "done"
    result = requests.get(f"{api}/v1/jobs/{upload['id']}/result", timeout=30)  # follows the 303
    with tifffile.TiffFile(io.BytesIO(result.content)) as tiff:
        levels = tiff.pages[0].asarray()
    assert levels.dtype == np.uint16 and levels.shape == ramp.shape
    assert len(np.unique(levels[16, :, 1])) > 400  # the fine steps came through (at 8 bits: about 20)


def test_bad_uploads_are_refused_under_uwsgi_and_nothing_is_kept(stack: LocalStack) -> None:
    url = f"{stack.config.api_url}/v1/jobs"
    cases = [
        ({"image": ("big.jpg", b"\xff\xd8\xff" + b"0" * (9 * 1024 * 1024))}, 413),
        ({"image": ("notes.jpg", b"just some text, not a photo\n" * 10)}, 415),
        ({"image": ("half.jpg", dark_jpeg()[:5000])}, 422),
    ]
    for files, expected in cases:
        reply = requests.post(url, files=files, timeout=30)
        assert reply.status_code == expected, reply.text
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.json()["status"] == expected
    assert requests.get(f"{url}/not-a-job-id", timeout=10).status_code == 404
    listing = s3_client(stack.aws).list_objects_v2(Bucket=stack.aws.bucket, Prefix="uploads/")
    uploads = {o["Key"] for o in listing.get("Contents", [])}
    statuses = s3_client(stack.aws).list_objects_v2(Bucket=stack.aws.bucket, Prefix="status/")
    assert len(uploads) == statuses.get("KeyCount", 0)  # every stored upload belongs to an accepted job


def wait_for_attempt(stack: LocalStack, job_id: str, attempt: int) -> None:
    """Until a worker is processing the job's ``attempt``-th delivery."""
    deadline = time.monotonic() + 60
    while (status := poll(stack, job_id, {"processing"}, timeout=60))["attempts"] < attempt:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_a_job_whose_worker_is_killed_every_time_ends_failed_and_in_the_dlq(idle_stack: LocalStack) -> None:
    job = submit(idle_stack, synthetic_dark_dng(3000, 4000), "slow.dng", ratio="100")  # 12 MP: seconds of work
    for attempt in (1, 2):  # max_receives is 2
        worker = idle_stack.add_worker()
        wait_for_attempt(idle_stack, job["id"], attempt)
        worker.kill()
        worker.wait()
    idle_stack.add_worker()  # its receive moves the message to the DLQ; its sweep marks the job
    status = poll(idle_stack, job["id"], {"failed", "done"})
    assert status["status"] == "failed"
    assert status["error"]["code"] == "worker-crashed"
    dead_letters = JobQueue.named(sqs_client(idle_stack.aws), idle_stack.aws.dead_letter_queue).depth()
    assert dead_letters.visible + dead_letters.in_flight == 1


def test_sigterm_finishes_the_current_job_then_exits(idle_stack: LocalStack) -> None:
    job = submit(idle_stack, synthetic_dark_dng(3000, 4000), "slow.dng", ratio="100")
    worker = idle_stack.add_worker()
    wait_for_attempt(idle_stack, job["id"], 1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert poll(idle_stack, job["id"], {"done", "failed"})["status"] == "done"


def test_a_second_sigterm_exits_at_once_and_the_job_is_retried(idle_stack: LocalStack) -> None:
    job = submit(idle_stack, synthetic_dark_dng(3000, 4000), "slow.dng", ratio="100")
    worker = idle_stack.add_worker()
    wait_for_attempt(idle_stack, job["id"], 1)
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 128 + signal.SIGTERM
    idle_stack.add_worker()  # the lease runs out and another worker finishes it
    status = poll(idle_stack, job["id"], {"done", "failed"})
    assert status["status"] == "done" and status["attempts"] == 2


def test_an_idle_worker_stops_at_once_on_sigterm(idle_stack: LocalStack) -> None:
    worker = idle_stack.add_worker({"DARKROOM_WAIT_SECONDS": "20"})
    time.sleep(3)  # in its long poll by now
    worker.send_signal(signal.SIGTERM)
    try:
        assert worker.wait(timeout=10) == 0  # did not sit out the 20 s poll
    except subprocess.TimeoutExpired:
        worker.kill()
        raise
