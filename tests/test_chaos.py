"""Chaos through the spot pool: workers interrupted and killed at random while jobs run, and poison among the
jobs (a decode that hangs, one that segfaults, a memory bomb: one job in 20); every good job ends done once,
every poison job fails with its reason.

``make chaos`` runs 300 jobs for two minutes of strikes (DARKROOM_CHAOS_JOBS, DARKROOM_CHAOS_SECONDS). Its
instances run ``tests.support.poison_worker``: the real worker, whose decode process hangs or crashes on
inputs marked in a JPEG comment (tests/worker/poison.py); the memory bomb is a real PNG.
"""

from __future__ import annotations

import io
import os
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from PIL import Image

from api.access import AccessSettings
from darkroom.local.fleet import Fleet
from darkroom.local.stack import LocalStack
from tests.support.pool_stack import (
    SHORT_NOTICE_SECONDS,
    StartStack,
    eventually,
    fleet_of,
    job_in,
    keep_versions,
    queues_empty,
    result_image,
    small_jpeg,
    status_histories,
    submit,
)
from tests.worker.poison import CRASH, HANG

pytestmark = pytest.mark.slow


class Striker:
    """A thread that interrupts or kills a random running worker at random intervals, for ``seconds``."""

    def __init__(self, fleet: Fleet, seconds: float) -> None:
        self.fleet = fleet
        self.seconds = seconds
        self.rng = random.Random()
        self.done: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="striker", daemon=True)

    def __enter__(self) -> Striker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def count(self, verb: str) -> int:
        return sum(1 for what in self.done if what.startswith(verb))

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while not self._stop.wait(self.rng.uniform(1.0, 4.0)) and time.monotonic() < deadline:
            # short notices hand jobs back; long ones let them finish
            struck = self.fleet.strike(notice_seconds=self.rng.choice([SHORT_NOTICE_SECONDS, 5.0, 15.0]))
            if struck is not None:
                self.done.append(struck)


def chaos_size(index: int) -> tuple[int, int]:
    """About 2 MP, so a worker is busy a good part of the time a strike may come (a job takes half a second);
    sizes differ from job to job, so each result is checked against its own input."""
    return 1600 + 16 * (index % 5), 1200 + 8 * (index % 3)


CHAOS_JOBS = int(os.environ.get("DARKROOM_CHAOS_JOBS", "36"))  # `make chaos` runs 300
CHAOS_SECONDS = float(os.environ.get("DARKROOM_CHAOS_SECONDS", "30"))
DEFAULT_SUBMITS_PER_MINUTE = AccessSettings().submits_per_minute


POISON_EVERY = 20  # one job in 20 is poison: in turn a hang, a crash, a memory bomb
POISONS = {"hang": ("decode-failed", "decoding took longer than"), "crash": ("decode-failed", "decoder crashed")}
POISONS["bomb"] = ("too-large", "MB one decode may use")
JOB_SECONDS = 20  # the chaos workers' time limit: a hang is killed after it
DECODE_MEMORY_MB = 1024  # a bomb (60 MP of one colour: 720 MB as floats) passes it; a 2 MP job stays far under


def chaos_stack(start_stack: StartStack, jobs_count: int) -> LocalStack:
    """The pool stack chaos runs on: its submit limit lets every job in at once (the default 60 a minute
    would answer 429 from the 61st), since chaos attacks the workers, not the limit; its workers decode
    under limits a poison job meets."""
    env = {
        "DARKROOM_SUBMITS_PER_MINUTE": str(max(jobs_count, 60)),
        "DARKROOM_JOB_SECONDS": str(JOB_SECONDS),
        "DARKROOM_DECODE_MEMORY_MB": str(DECODE_MEMORY_MB),
    }
    poison_worker = (sys.executable, "-m", "tests.support.poison_worker")
    return start_stack(max_workers=3, idle_seconds=30.0, max_receives=20, env=env, worker_command=poison_worker)


def poison_of(index: int) -> str | None:
    """Which poison job ``index`` is, if any."""
    if index % POISON_EVERY != 3:
        return None
    return list(POISONS)[index // POISON_EVERY % len(POISONS)]


def upload_of(index: int) -> tuple[bytes, str]:
    """Job ``index``'s file and name: a dark JPEG of its own size, or its poison."""
    poison = poison_of(index)
    if poison == "bomb":
        bomb = io.BytesIO()
        Image.new("L", (10_000, 6_000), 3).save(bomb, "PNG")  # a few KB
        return bomb.getvalue(), f"bomb-{index}.png"
    if poison is not None:
        marked = io.BytesIO()
        Image.open(io.BytesIO(small_jpeg(320, 240))).save(marked, "JPEG", comment=HANG if poison == "hang" else CRASH)
        return marked.getvalue(), f"{poison}-{index}.jpg"
    return small_jpeg(*chaos_size(index)), f"dark-{index}.jpg"


def assert_poison_failed(finals: dict[str, dict[str, Any]], poisons: dict[str, str]) -> None:
    """Each poison job failed with its reason: after two hangs or crashes, or (when strikes used up its
    deliveries first) on its last delivery, whose reason is the decode's."""
    for job_id, poison in poisons.items():
        code, reason = POISONS[poison]
        status = finals[job_id]
        assert status["status"] == "failed" and status["error"]["code"] in (code, "gave-up"), (poison, status)
        assert reason in status["error"]["message"], (poison, status)


def test_the_chaos_stack_takes_more_submits_than_the_default_limit(start_stack: StartStack) -> None:
    """What `make chaos` needs of its stack, without the chaos: 61 submits in a row are all accepted."""
    stack = chaos_stack(start_stack, jobs_count=DEFAULT_SUBMITS_PER_MINUTE + 1)
    jpeg = small_jpeg(64, 48)
    accepted = [submit(stack, jpeg, f"dark-{index}.jpg")["id"] for index in range(DEFAULT_SUBMITS_PER_MINUTE + 1)]
    assert len(set(accepted)) == DEFAULT_SUBMITS_PER_MINUTE + 1


def test_chaos_every_job_ends_done_exactly_once(start_stack: StartStack) -> None:
    jobs_count, started = CHAOS_JOBS, time.monotonic()
    stack = chaos_stack(start_stack, jobs_count)
    keep_versions(stack)  # every write of every status document is kept
    sizes: dict[str, tuple[int, int]] = {}
    poisons: dict[str, str] = {}
    with Striker(fleet_of(stack), seconds=CHAOS_SECONDS) as striker:  # strikes while the queue drains, then stops
        for index in range(jobs_count):
            job_id = submit(stack, *upload_of(index))["id"]
            if (poison := poison_of(index)) is not None:
                poisons[job_id] = poison
            else:
                sizes[job_id] = chaos_size(index)
        ended = {job_id: job_in(stack, job_id, {"done", "failed"}, timeout=180 + jobs_count) for job_id in poisons}
        finals = {job_id: job_in(stack, job_id, {"done", "failed"}, timeout=180 + jobs_count) for job_id in sizes}
    wall = time.monotonic() - started  # from starting the stack to every job ended
    histories = status_histories(stack, list(sizes))
    handed_back = sum(
        any("handed back" in (document["note"] or "") for document in documents.values())
        for documents, _ in histories.values()
    )
    attempts = Counter(status["attempts"] for status in finals.values())
    print(
        f"\nchaos: {jobs_count} jobs, {len(striker.done)} strikes ({striker.count('killed')} kills, "
        f"{striker.count('interrupted')} interruptions), {handed_back} jobs handed back, "
        f"attempts {dict(sorted(attempts.items()))}, {len(poisons)} poison jobs "
        f"({dict(Counter(poisons.values()))}), {wall:.1f} s"
    )
    assert_poison_failed(ended, poisons)

    assert striker.done, "nothing was struck"
    eventually(lambda: queues_empty(stack), "the queue and the dead-letter queue are empty", timeout=60)
    assert {status["status"] for status in finals.values()} == {"done"}, finals
    for job_id, size in sizes.items():
        assert result_image(stack, job_id).size == size
        assert (finals[job_id]["result"]["width"], finals[job_id]["result"]["height"]) == size
        documents, current = histories[job_id]
        done = [version for version, document in documents.items() if document["state"] == "done"]
        assert done == [current], f"job {job_id}: done {len(done)} times, or overwritten after: {documents}"
