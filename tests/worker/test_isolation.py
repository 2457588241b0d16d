"""A decode that hangs, crashes or exhausts its memory ends its own job, not the worker or its neighbours.

Against a real moto server, with the real decode process (worker/isolate.py):
two jobs in flight on one worker, one poison and one good. The hang and the
crash are inputs marked for tests/worker/poison.py (a real sleep, a real
segfault); the memory bomb is a real PNG (a few KB of one colour that
decodes to 720 MB) under a 1 GB decode limit.
"""

from __future__ import annotations

import io
import multiprocessing

import pytest
from PIL import Image

from jobs.message import InputKind
from jobs.status import JobState
from tests.worker.conftest import Parts, dark_jpeg
from tests.worker.poison import CRASH, HANG, decode_or_misbehave

LIMIT_SECONDS = 3.0


def assert_done(parts: Parts, job_id: str) -> None:
    status = parts.status(job_id)
    assert status.state is JobState.DONE and status.result is not None, status


@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        (HANG, f"decoding took longer than the {LIMIT_SECONDS:g} s limit"),
        (CRASH, "the decoder crashed (killed by SIGSEGV)"),
    ],
    ids=["hang", "crash"],
)
def test_a_decode_that_hangs_or_crashes_fails_only_its_own_job(parts: Parts, poison: bytes, reason: str) -> None:
    bad = parts.submit(poison + dark_jpeg(), "jpg", InputKind.SRGB)
    good = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    worker = parts.worker(pipeline_depth=2, job_seconds=LIMIT_SECONDS)
    worker.jobs.decode = decode_or_misbehave
    worker.run(max_jobs=3)  # the bad job on each of its 2 attempts, the good one once

    status = parts.status(bad)
    assert status.state is JobState.FAILED and status.error is not None, status
    assert status.error.code == "gave-up" and reason in status.error.message, status.error
    assert status.attempts == 2
    assert_done(parts, good)
    assert multiprocessing.active_children() == []  # the hung decode was killed, not left behind


def test_a_memory_bomb_fails_only_its_own_job_as_too_large(parts: Parts) -> None:
    bomb = io.BytesIO()
    Image.new("L", (10_000, 6_000), 3).save(bomb, "PNG")
    assert len(bomb.getvalue()) < 100_000
    bad = parts.submit(bomb.getvalue(), "png", InputKind.SRGB)
    good = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.worker(pipeline_depth=2, decode_memory_mb=1024).run(max_jobs=2)

    status = parts.status(bad)
    assert status.state is JobState.FAILED and status.error is not None, status
    assert status.error.code == "too-large" and "more than the 1,024 MB" in status.error.message, status.error
    assert status.attempts == 1  # the same file would need the same memory again
    assert_done(parts, good)
