"""Worker cold start: process start to ready (first receive), and to the first result.

A real ``python -m worker --max-jobs 1`` process against a moto server in a
process of its own, with one job (a 1 MP JPEG) already queued; the times are
read from the worker's own log lines as they arrive. The interpreter's own
start (``python -c pass``) is measured in the same run and subtracted, as the
target excludes it. Baseline: the worker with the classical method (no torch
at all); darkroom's learned method must load two models and warm them up.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
import uuid

import numpy as np
from PIL import Image

from bench.common import REPO, Table, machine, moto_process
from darkroom.local.aws import EMULATOR_CREDENTIALS, create_resources
from jobs.aws import s3_client, sqs_client
from jobs.message import InputKind
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.store import JobStore
from jobs.submit import submit_job


def dark_jpeg() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 40, size=(864, 1152, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def interpreter_seconds(repeats: int) -> float:
    def once() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return time.perf_counter() - started

    return statistics.median(once() for _ in range(repeats))


def one_start(url: str, method: str) -> tuple[float, float]:
    """Seconds from spawning a worker to its 'ready' log line and to its first 'done'."""
    suffix = uuid.uuid4().hex[:8]
    aws = AwsSettings(endpoint_url=url, bucket=f"cold-{suffix}", queue=f"q-{suffix}", dead_letter_queue=f"d-{suffix}")
    create_resources(aws)
    queue = JobQueue.named(sqs_client(aws), aws.queue)
    submit_job(JobStore(s3_client(aws), aws.bucket), queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, 8.0)
    env = {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        **aws.to_env(),
        "DARKROOM_METHOD": method,
        "DARKROOM_IMDS_URL": "",
        "DARKROOM_WAIT_SECONDS": "1",
        "PYTHONPATH": str(REPO),
    }
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--max-jobs", "1"], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    ready = done = None
    assert worker.stderr is not None
    for line in worker.stderr:
        if ready is None and " ready " in line:
            ready = time.perf_counter() - started
        if ": done " in line:
            done = time.perf_counter() - started
    if worker.wait(60) != 0 or ready is None or done is None:
        raise RuntimeError(f"the {method} worker did not start and finish a job")
    return ready, done


def import_seconds(method: str, interpreter: float) -> float:
    """The worker's imports (torch and the models too, for the learned method), interpreter start taken off."""
    code = "import worker.__main__" + ("; import worker.models" if method == "sid" else "")
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def once() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return time.perf_counter() - started

    return statistics.median(once() for _ in range(3)) - interpreter


def run(quick: bool = False) -> list[Table]:
    repeats = 1 if quick else 3
    interpreter = interpreter_seconds(5)
    table = Table(
        "Worker cold start",
        machine(),
        f"python -m worker --max-jobs 1, one 1 MP JPEG job queued, moto in its own process; median of {repeats}; "
        f"interpreter start ({interpreter:.2f} s, python -c pass) subtracted",
        ["method", "imports s", "ready s", "first result s", "ready vs baseline"],
    )
    results = {}
    with moto_process() as url:
        for method in ("baseline", "sid"):
            starts = [one_start(url, method) for _ in range(repeats)]
            ready = statistics.median(s[0] for s in starts) - interpreter
            done = statistics.median(s[1] for s in starts) - interpreter
            results[method] = (import_seconds(method, interpreter), ready, done)
            print(f"  coldstart {method}: ready {ready:.2f} s, first result {done:.2f} s", file=sys.stderr)
    base_ready = results["baseline"][1]
    for method, (imports, ready, done) in results.items():
        label = "baseline (classical, no torch)" if method == "baseline" else "sid (two models loaded and warmed up)"
        table.add(label, imports, ready, done, f"{ready / base_ready:.2f}x")
    table.notes.append("target: ready within 3 s of process start on CPU, excluding the interpreter's own start")
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for table in run(parser.parse_args(argv).quick):
        print(table.markdown())


if __name__ == "__main__":
    main()
