"""Overlapping jobs on one worker: the accelerator never waits for S3, LibRaw or the JPEG encoder.

A job is download -> decode -> enhance -> encode -> upload -> done. Only
enhancement needs the accelerator (the GPU, or on a CPU-only worker the
cores torch uses); the rest is network and codecs, which release the GIL. So
the worker runs up to ``depth`` jobs at once, each on its own thread with its
own message lease and heartbeat, and lets them take turns at the enhancer:

    job N-1:  ... enhance | encode, upload, done
    job N:        download, decode | enhance | encode ...
    job N+1:                download, decode | enhance ...

With ``depth`` 3 the next job is downloaded and decoded, and the previous one
encoded and uploaded, while the current one is enhanced. Each job still goes
through ``Worker.handle`` from start to end, so every guarantee of a single
job (status, conditional done write, deletion after the result is stored,
failures marked) holds unchanged; ``depth`` 1 is the plain sequential loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from worker.frames import Enhancer, Frame, RawFrame, SrgbFrame, method_name


class TakingTurns:
    """An enhancer that one job at a time may run: the accelerator's queue."""

    def __init__(self, enhancer: Enhancer) -> None:
        self.inner = enhancer
        self.name = enhancer.name
        self._turn = threading.Lock()

    def name_for(self, frame: Frame) -> str:
        return method_name(self.inner, frame)

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        with self._turn:
            return self.inner.enhance_raw(frame, ratio)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        with self._turn:
            return self.inner.enhance_srgb(frame, ratio)


class JobSlots:
    """At most ``depth`` jobs in flight, each on a thread of its own; bounds memory to ``depth`` decoded frames."""

    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"pipeline depth must be at least 1, not {depth}")
        self.depth = depth
        self._free = threading.Semaphore(depth)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._threads)

    def wait_for_free(self) -> None:
        """Block until another job may start (a signal handler may interrupt the wait)."""
        self._free.acquire()
        self._free.release()

    def start(self, job: Callable[[], None], name: str) -> None:
        """Run ``job`` on its own thread; waits for a free slot first."""
        self._free.acquire()
        thread = threading.Thread(target=self._run, args=(job,), name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
            self._free.release()

    def wait_all(self) -> None:
        """Until every job started has ended."""
        while True:
            with self._lock:
                running = next(iter(self._threads), None)
            if running is None:
                return
            running.join()
