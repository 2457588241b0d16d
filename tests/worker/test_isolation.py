"""A decode that hangs, crashes or exhausts its memory ends its own job, not the worker or its neighbours.

Against a real moto server, with the real decode process (worker/isolate.py):
two jobs in flight on one worker, one poison and one good. The hang and the
crash are inputs marked for tests/worker/poison.py (a real sleep, a real
segfault); the memory bombs are real PNGs (a few hundred KB of one colour
that decode to 720 MB or more: 8-bit grey through Pillow, 16-bit RGB through
libpng) under a 1 GB decode limit.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from jobs.message import InputKind
from jobs.status import JobState
from tests.support.png16 import png16_bomb
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
    assert status.error.code == "decode-failed" and f"{reason}, on 2 attempts" in status.error.message, status.error
    assert status.attempts == 2
    assert_done(parts, good)
    assert multiprocessing.active_children() == []  # the hung decode was killed, not left behind


def grey_bomb() -> bytes:
    """8-bit grey, 10,000 x 6,000: Pillow's path."""
    bomb = io.BytesIO()
    Image.new("L", (10_000, 6_000), 3).save(bomb, "PNG")
    return bomb.getvalue()


def rgb16_bomb() -> bytes:
    """16-bit RGB, 10,000 x 6,000 (360 MB of levels, 720 MB as floats): libpng's path."""
    return png16_bomb(10_000, 6_000)


@pytest.mark.parametrize("make_bomb", [grey_bomb, rgb16_bomb], ids=["grey8", "rgb16"])
def test_a_memory_bomb_fails_only_its_own_job_as_too_large(parts: Parts, make_bomb: Callable[[], bytes]) -> None:
    bomb = make_bomb()
    assert len(bomb) < 400_000
    bad = parts.submit(bomb, "png", InputKind.SRGB)
    good = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.worker(pipeline_depth=2, decode_memory_mb=1024).run(max_jobs=2)

    status = parts.status(bad)
    assert status.state is JobState.FAILED and status.error is not None, status
    assert status.error.code == "too-large" and "more than the 1,024 MB" in status.error.message, status.error
    assert status.attempts == 1  # the same file would need the same memory again
    assert_done(parts, good)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_hung_decode_does_not_outlive_its_worker(tmp_path: Path) -> None:
    """A worker killed while its decode hangs (SIGKILL: no clean-up runs) takes the decode process with it."""
    told = tmp_path / "decode.pid"
    code = (
        "from jobs.message import InputKind\n"
        "from tests.worker.poison import HANG, decode_or_misbehave\n"
        "from worker.isolate import DecodeLimits, decode_isolated\n"
        f"data = HANG + {str(told).encode()!r}\n"
        "decode_isolated(data, InputKind.SRGB, DecodeLimits(600, 2**30), run=decode_or_misbehave)"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 60
    while not told.exists() or not told.read_text():
        assert worker.poll() is None and time.monotonic() < deadline, "the decode never started"
        time.sleep(0.05)
    decode_pid = int(told.read_text())
    assert running(decode_pid)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 30
    try:
        while running(decode_pid):
            assert time.monotonic() < deadline, f"decode process {decode_pid} outlived its worker"
            time.sleep(0.05)
    finally:
        if running(decode_pid):  # the test failed: leave nothing behind
            os.kill(decode_pid, signal.SIGKILL)
