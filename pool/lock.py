"""A lock shared by every API process on this host, around claiming slots and launching.

S3's conditional PUT is what enforces the maximum across hosts; this lock
makes processes on one host take turns, so they do not race for the same
slots, and it covers emulators whose conditional PUT is not atomic (moto's is
not under concurrency). The kernel drops an flock when its holder dies, so a
killed process never leaves it held.
"""

from __future__ import annotations

import fcntl
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def lock_path(bucket: str, pool: str) -> Path:
    """One lock per bucket and pool (the slots live in the bucket), in the system's temp dir."""
    return Path(tempfile.gettempdir()) / UNSAFE.sub("_", f"darkroom-pool-{bucket}-{pool}.lock")


@contextmanager
def host_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
