"""Poison inputs for the decode process (tests/worker/test_isolation.py): a hang and a real segfault.

A module of its own, so the decode process can import the function by name.
"""

from __future__ import annotations

import ctypes
import time

from jobs.message import InputKind
from worker.decode import decode
from worker.frames import Frame

HANG = b"poison:hang "
CRASH = b"poison:crash "


def decode_or_misbehave(data: bytes, kind: InputKind, max_pixels: int) -> Frame:
    """The real decode, except for marked inputs: one never returns, one segfaults (it reads address 0)."""
    if data.startswith(HANG):
        time.sleep(3600)
    if data.startswith(CRASH):
        ctypes.string_at(0)
    return decode(data, kind, max_pixels)
