"""The Lambda handler's cold start: process start to ready (the init phase: imports, model loaded and warmed),
and to the first result through the handler.

A real ``python -m darkroom.local.event_source`` process (the local event
source mapping: it imports ``worker.lambda_handler``, Lambda's init phase, and
then invokes the handler) against a moto server in a process of its own, with
one job (a 1 MP JPEG) already queued; the times are read from the process's own
log lines as they arrive. The interpreter's own start (``python -c pass``) is
subtracted, as for the EC2 worker (bench/coldstart.py). What Lambda adds on AWS
(pulling the image, starting the sandbox) is not measured here. Baseline: the
classical method (no torch at all).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid

from bench.coldstart import dark_jpeg, interpreter_seconds
from bench.common import REPO, Table, machine, moto_process
from darkroom.local.aws import EMULATOR_CREDENTIALS, create_resources
from jobs.aws import s3_client, sqs_client
from jobs.message import InputKind
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.store import JobStore
from jobs.submit import submit_job


def one_start(url: str, method: str) -> tuple[float, float]:
    """Seconds from spawning the function's process to its 'function ready' log line and to its first 'done'."""
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
    function = subprocess.Popen(
        [sys.executable, "-m", "darkroom.local.event_source"], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    ready = done = None
    assert function.stderr is not None
    for line in function.stderr:
        if ready is None and "function ready" in line:
            ready = time.perf_counter() - started
        if ": done " in line:
            done = time.perf_counter() - started
            function.send_signal(signal.SIGTERM)
    if function.wait(60) != 0 or ready is None or done is None:
        raise RuntimeError(f"the {method} function did not start and finish a job")
    return ready, done


def run(quick: bool = False) -> list[Table]:
    repeats = 1 if quick else 3
    interpreter = interpreter_seconds(5)
    table = Table(
        "Lambda handler cold start",
        machine(),
        "python -m darkroom.local.event_source (imports worker.lambda_handler: the init phase), one 1 MP JPEG job "
        f"queued, moto in its own process; median of {repeats}; interpreter start ({interpreter:.2f} s) subtracted",
        ["method", "init (ready) s", "first result s", "ready vs baseline"],
    )
    results = {}
    with moto_process() as url:
        for method in ("baseline", "sid"):
            starts = [one_start(url, method) for _ in range(repeats)]
            ready = statistics.median(s[0] for s in starts) - interpreter
            done = statistics.median(s[1] for s in starts) - interpreter
            results[method] = (ready, done)
            print(f"  lambda {method}: ready {ready:.2f} s, first result {done:.2f} s", file=sys.stderr)
    base_ready = results["baseline"][0]
    for method, (ready, done) in results.items():
        label = "baseline (classical, no torch)" if method == "baseline" else "sid (models loaded and warmed up)"
        table.add(label, ready, done, f"{ready / base_ready:.2f}x")
    table.notes.append(
        "on AWS add the sandbox's start and the image pull (cached after the first); Lambda's init phase may "
        "take up to 10 s before it is billed as part of the first invocation"
    )
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lambda_coldstart", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for table in run(parser.parse_args(argv).quick):
        print(table.markdown())


if __name__ == "__main__":
    main()
