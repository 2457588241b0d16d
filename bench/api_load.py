"""API: status polls per second and submit latency under uWSGI, 64 concurrent clients, errors counted.

The stack is the real one (``darkroom.local.stack.LocalStack``: moto over HTTP and
the API under uWSGI with api/uwsgi.ini), without workers. Polls go over
keep-alive connections, by ``wrk`` when it is installed (apt install wrk),
else by the asyncio load generator below. Baseline in the same run: polls of
a processing job, which read S3 on every poll; against polls of a done job,
which the API serves from its terminal-status cache after the first read.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import requests
from PIL import Image

from bench.common import Table, machine, ratio
from darkroom.local.aws import free_port
from darkroom.local.config import StackConfig
from darkroom.local.stack import LocalStack
from jobs.aws import s3_client
from jobs.ids import new_job_id
from jobs.message import InputKind
from jobs.status import JobResult, JobStatus, iso_now
from jobs.store import JobStore

CLIENTS = 64


@dataclass(frozen=True)
class Load:
    requests: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk_load(url: str, seconds: float) -> Load:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds:.0f}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    out = done.stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(total, errors + (int(non2xx.group(1)) if non2xx else 0), seconds)


async def _client(host: str, port: int, path: str, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.monotonic() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
    except (OSError, asyncio.IncompleteReadError, AttributeError):
        counts[1] += 1
    finally:
        writer.close()


def python_load(url: str, seconds: float) -> Load:
    """64 keep-alive connections from one asyncio loop (used when wrk is not installed)."""
    parts = urlsplit(url)
    counts = [0, 0]  # ok, errors

    async def main() -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(
            *(_client(parts.hostname or "", parts.port or 80, parts.path, stop, counts) for _ in range(CLIENTS))
        )

    asyncio.run(main())
    return Load(counts[0] + counts[1], counts[1], seconds)


def sample_jpeg() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 40, size=(480, 640, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def submit_latencies(api: str, count: int) -> tuple[list[float], int]:
    """``count`` submissions from 64 concurrent clients; returns each one's seconds and the errors."""
    data = sample_jpeg()

    def one(_: int) -> float | None:
        started = time.perf_counter()
        response = requests.post(f"{api}/v1/jobs", files={"image": ("dark.jpg", data)}, timeout=60)
        return time.perf_counter() - started if response.status_code == 202 else None

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, range(count)))
    return [r for r in results if r is not None], sum(r is None for r in results)


def seed_jobs(stack: LocalStack) -> tuple[str, str]:
    """A processing job and a done one, written straight to the bucket: the ids to poll."""
    store = JobStore(s3_client(stack.aws), stack.aws.bucket)
    processing = JobStatus.new(new_job_id(), InputKind.RAW, None, iso_now()).processing("w-1", 1, iso_now())
    store.write_status(processing)
    done_id = new_job_id()
    result = JobResult(store.put_result(done_id, sample_jpeg()), 640, 480, 1000)
    store.write_status(
        JobStatus.new(done_id, InputKind.RAW, None, iso_now())
        .processing("w-1", 1, iso_now())
        .done(result, 50.0, "sid", {}, iso_now())
    )
    return processing.job_id, done_id


def run(quick: bool = False) -> list[Table]:
    seconds = 5.0 if quick else 15.0
    unlimited = {"DARKROOM_SUBMITS_PER_MINUTE": "1000000"}  # one client address sends every submit: measure, not limit
    stack = LocalStack(StackConfig(api_port=free_port(), moto_port=free_port(), extra_env=unlimited))
    stack.start()
    try:
        processing_id, done_id = seed_jobs(stack)
        api = stack.config.api_url
        load = wrk_load if shutil.which("wrk") else python_load
        generator = "wrk -t2 -c64" if shutil.which("wrk") else "asyncio, 64 keep-alive connections"
        running = load(f"{api}/v1/jobs/{processing_id}", seconds)
        finished = load(f"{api}/v1/jobs/{done_id}", seconds)
        latencies, submit_errors = submit_latencies(api, 64 if quick else 256)
    finally:
        stack.stop()
    table = Table(
        "API under uWSGI: status polls and submissions",
        machine(),
        f"api/uwsgi.ini as shipped, moto over HTTP, no workers; {CLIENTS} concurrent clients ({generator}), "
        f"{seconds:.0f} s per poll run; submissions of a 640x480 JPEG",
        ["what", "requests", "errors", "per second", "vs baseline", "latency"],
    )
    table.add(
        "poll a processing job: S3 read on every poll (baseline)",
        running.requests,
        running.errors,
        running.per_second,
        "1.00x",
        "-",
    )
    table.add(
        "poll a done job: terminal-status cache",
        finished.requests,
        finished.errors,
        finished.per_second,
        ratio(finished.per_second, running.per_second),
        "-",
    )
    if latencies:
        p50 = statistics.median(latencies) * 1000
        p95 = float(np.percentile(latencies, 95)) * 1000
        table.add(
            "submit (POST /v1/jobs)",
            len(latencies) + submit_errors,
            submit_errors,
            "-",
            "-",
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
        )
    table.notes.append("target: >= 1500 polls/s with zero errors at 64 concurrent clients")
    print(f"  api: {finished.per_second:.0f} polls/s done, {running.per_second:.0f} processing", file=sys.stderr)
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for table in run(parser.parse_args(argv).quick):
        print(table.markdown())


if __name__ == "__main__":
    main()
