"""Decoding in a child process, where a hang, a crash or a memory bomb ends one job, not the worker.

Jobs in flight are threads of one worker process, so a LibRaw segfault or an
out-of-memory kill in one decode would take the others down with it, and a
decode that hangs would hold its slot (and, with the heartbeat renewing the
lease, its instance) for good. So each decode runs in a child process forked
from a small, single-threaded fork server that has the decoders imported
(``multiprocessing``'s forkserver: nothing of the worker's threads, sockets
or torch state is inherited). The child's address space is capped
(``RLIMIT_AS``), and the parent kills it at the job's time limit.

What comes back: the frame, or the input's own error (an ``InputError``,
failed at once), or ``DecodeCrashed`` with a reason a person can read (the
job is retried like any transient failure and fails with that reason after
its attempts). A decode that runs out of its memory allowance raises
``MemoryError`` in the child, which is an ``InputError`` ("too-large"): the
same file would need the same memory next time.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

from jobs.message import InputKind
from worker.decode import MAX_PIXELS, decode
from worker.frames import Frame, InputError

MIB = 1024 * 1024
PR_SET_PDEATHSIG = 1  # prctl(2)
Decode = Callable[[bytes, InputKind, int], Frame]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["worker.decode"])


class DecodeCrashed(Exception):
    """The decode's process hung past the time limit or died; ``reason`` says which, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodeLimits:
    seconds: float  # the child is killed after this long
    memory_bytes: int  # its address space (RLIMIT_AS): numpy, Pillow and LibRaw allocations fail beyond it


def _die_with_parent() -> None:
    """Linux: be killed when the fork server exits, which it does once the worker has died, so no hang
    outlives its worker. The server waits for every child holding its "alive" pipe: this one lets go of it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _child(conn: Connection, run: Decode, data: bytes, kind: InputKind, max_pixels: int, memory_bytes: int) -> None:
    """In the child: cap memory, decode, send back ("frame", frame) or ("input-error", code, message)."""
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        reply: tuple[Any, ...] = ("frame", run(data, kind, max_pixels))
    except InputError as exc:
        reply = ("input-error", exc.code, exc.message)
    except MemoryError:
        limit = f"{memory_bytes / MIB:,.0f} MB"
        reply = ("input-error", "too-large", f"Decoding this image needs more than the {limit} one decode may use.")
    del data
    try:
        conn.send(reply)
    except BrokenPipeError:  # the worker is gone (killed): nobody waits for this frame
        return
    conn.close()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"the decoder crashed (killed by {signal.Signals(-exitcode).name})"
    return f"the decoder crashed (exit code {exitcode})"


def decode_isolated(
    data: bytes, kind: InputKind, limits: DecodeLimits, max_pixels: int = MAX_PIXELS, run: Decode = decode
) -> Frame:
    """``run(data, kind, max_pixels)`` in a child process under ``limits``; raises InputError or DecodeCrashed.

    ``run`` must be importable by name in the child (a module-level function).
    """
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_child, args=(send, run, data, kind, max_pixels, limits.memory_bytes), name="decode", daemon=True
    )
    child.start()
    send.close()  # the child holds the only writing end: its death reads as EOF here
    try:
        if not receive.poll(limits.seconds):
            child.kill()
            raise DecodeCrashed(f"decoding took longer than the {limits.seconds:g} s limit")
        try:
            reply = receive.recv()
        except EOFError:
            child.join()
            raise DecodeCrashed(_died(child.exitcode)) from None
    finally:
        receive.close()
        child.join(timeout=limits.seconds)
        if child.is_alive():
            child.kill()
            child.join()
        child.close()
    if reply[0] == "input-error":
        raise InputError(reply[1], reply[2])
    frame: Frame = reply[1]
    return frame
