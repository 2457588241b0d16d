"""Poison inputs for the decode process (tests/worker/test_isolation.py, tests/test_chaos.py): a hang and
a real segfault, wherever the marker is in the file (a JPEG's comment carries it past the API's checks).

A module of its own, so the decode process can import the function by name.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

from jobs.message import InputKind
from worker.decode import decode
from worker.frames import Frame

HANG = b"poison:hang "
CRASH = b"poison:crash "


def decode_or_misbehave(data: bytes, kind: InputKind, max_pixels: int) -> Frame:
    """The real decode, except for marked inputs: one never returns, one segfaults (it reads address 0).

    After ``HANG``, a path up to a newline: the decode process writes its pid there first."""
    if HANG in data:
        told = data.split(HANG, 1)[1].split(b"\n", 1)[0]
        if told.startswith(b"/"):
            Path(told.decode()).write_text(str(os.getpid()))
        time.sleep(3600)
    if CRASH in data:
        ctypes.string_at(0)
    return decode(data, kind, max_pixels)
