"""Chaos through the spot pool: workers interrupted and killed at random while jobs run; every job ends done once.

``make chaos`` runs 300 jobs for two minutes of strikes (DARKROOM_CHAOS_JOBS, DARKROOM_CHAOS_SECONDS).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import pytest

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


def chaos_stack(start_stack: StartStack, jobs_count: int) -> LocalStack:
    """The pool stack chaos runs on: its submit limit lets every job in at once (the default 60 a minute
    would answer 429 from the 61st), since chaos attacks the workers, not the limit."""
    limit = {"DARKROOM_SUBMITS_PER_MINUTE": str(max(jobs_count, 60))}
    return start_stack(max_workers=3, idle_seconds=30.0, max_receives=20, env=limit)


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
    with Striker(fleet_of(stack), seconds=CHAOS_SECONDS) as striker:  # strikes while the queue drains, then stops
        for index in range(jobs_count):
            sizes[submit(stack, small_jpeg(*chaos_size(index)), f"dark-{index}.jpg")["id"]] = chaos_size(index)
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
        f"attempts {dict(sorted(attempts.items()))}, {wall:.1f} s"
    )

    assert striker.done, "nothing was struck"
    eventually(lambda: queues_empty(stack), "the queue and the dead-letter queue are empty", timeout=60)
    assert {status["status"] for status in finals.values()} == {"done"}, finals
    for job_id, size in sizes.items():
        assert result_image(stack, job_id).size == size
        assert (finals[job_id]["result"]["width"], finals[job_id]["result"]["height"]) == size
        documents, current = histories[job_id]
        done = [version for version, document in documents.items() if document["state"] == "done"]
        assert done == [current], f"job {job_id}: done {len(done)} times, or overwritten after: {documents}"
