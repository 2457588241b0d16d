"""Which enhancer a worker runs: a setting, not a rebuild."""

from __future__ import annotations

from worker.baseline import Baseline
from worker.frames import Enhancer

METHODS = ("baseline",)


def load_enhancer(method: str) -> Enhancer:
    """Build the named enhancer once, at worker start."""
    if method == "baseline":
        return Baseline()
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
