"""What a simulated run measured: per job submit and done times, per worker its life and busy time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class WorkerLog:
    launched: float
    ended: float | None = None
    ready_at: float | None = None
    busy_seconds: float = 0.0
    jobs: int = 0
    interrupted: bool = False


@dataclass
class Outcome:
    """What one simulated run measured; costs are computed from it elsewhere (costs.py)."""

    submitted: np.ndarray
    done: np.ndarray
    workers: list[WorkerLog]
    interruptions: int  # spot notices received
    handed_back: int  # jobs sent back to the queue by a notice, later completed elsewhere
    horizon: float
    end: float  # when the run stopped (every job done, every idle worker stopped)
    events: int = 0

    @property
    def latencies(self) -> np.ndarray:
        latencies: np.ndarray = self.done - self.submitted
        return latencies
