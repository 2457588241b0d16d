"""Overlapped jobs: several in flight, one at a time at the enhancer, every one finished and acknowledged."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest

from jobs.message import InputKind
from jobs.status import JobState
from tests.worker.conftest import CountingBaseline, Parts, dark_jpeg
from worker.frames import RawFrame, SrgbFrame
from worker.loop import Worker
from worker.overlap import JobSlots


@dataclass
class Watching:
    """The real baseline, noting how many jobs were in flight and at the enhancer whenever it runs."""

    inner: CountingBaseline
    worker: Worker | None = None
    name: str = "baseline"
    at_enhancer: int = 0
    most_at_enhancer: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self) -> None:
        with self.lock:
            self.at_enhancer += 1
            self.most_at_enhancer = max(self.most_at_enhancer, self.at_enhancer)
            if self.worker is not None:
                self.most_in_flight = max(self.most_in_flight, self.worker.slots.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.at_enhancer -= 1

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        self._enter()
        try:
            return self.inner.enhance_raw(frame, ratio)
        finally:
            self._leave()

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        self._enter()
        try:
            return self.inner.enhance_srgb(frame, ratio)
        finally:
            self._leave()


def test_overlapped_jobs_all_finish_and_take_turns_at_the_enhancer(parts: Parts) -> None:
    job_ids = [parts.submit(dark_jpeg(), "jpg", InputKind.SRGB, 4.0) for _ in range(5)]
    watching = Watching(parts.enhancer)
    worker = Worker(parts.worker(pipeline_depth=3).settings, parts.store, parts.queue, parts.dead_letters, watching)
    watching.worker = worker
    assert worker.run(max_jobs=5) == "max-jobs"
    assert [parts.status(job_id).state for job_id in job_ids] == [JobState.DONE] * 5
    assert parts.queue.depth().visible == 0 and parts.queue.depth().in_flight == 0  # every message deleted
    assert parts.enhancer.calls == ["srgb"] * 5
    assert watching.most_at_enhancer == 1  # the accelerator runs one job at a time
    assert watching.most_in_flight >= 2  # while it did, another job was downloading or uploading
    assert worker.jobs_done == 5


def test_a_depth_of_one_runs_each_job_on_the_loop_thread(parts: Parts) -> None:
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB, 4.0)
    worker = parts.worker(pipeline_depth=1)
    assert worker.enhancer is parts.enhancer  # no turn-taking wrapper
    worker.run(max_jobs=1)
    assert parts.status(job_id).state is JobState.DONE


def test_slots_bound_the_jobs_in_flight() -> None:
    slots = JobSlots(2)
    release = threading.Event()
    slots.start(release.wait, "a")
    slots.start(release.wait, "b")
    assert slots.in_flight == 2
    third = threading.Thread(target=slots.start, args=(lambda: None, "c"))
    third.start()
    third.join(0.2)
    assert third.is_alive()  # waiting for a free slot
    release.set()
    third.join()
    slots.wait_all()
    assert slots.in_flight == 0
    with pytest.raises(ValueError, match="at least 1"):
        JobSlots(0)
