"""The worker pipeline per job: sequential against overlapped, in jobs per minute.

A stream of 12-megapixel RAWs (generated DNGs, 4000x3000, dark sensor noise)
is submitted to a real moto server started here in its own process, and a ``worker.loop.Worker`` works through it:
S3 get, decode, enhance, encode, S3 put, done, delete, for every job. The
baseline is the same worker with ``pipeline_depth=1`` (each job from start to
end before the next); darkroom's default overlaps the next job's download and
decode and the previous job's encode and upload with the current enhancement
(worker/overlap.py). Same jobs, same enhancer, same run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid

import numpy as np

from bench.common import Table, machine, moto_process, ratio
from darkroom.dng import dng_bytes
from darkroom.local.aws import create_resources
from jobs.aws import s3_client, sqs_client
from jobs.message import InputKind
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobState
from jobs.store import JobStore
from jobs.submit import submit_job
from worker.frames import Enhancer
from worker.loop import Worker
from worker.methods import ModelChoice, load_enhancer
from worker.settings import WorkerSettings


def dark_dng(seed: int) -> bytes:
    """A 4000x3000 14-bit RAW of dark sensor noise (fast to make; the pipeline's cost does not depend on content)."""
    rng = np.random.default_rng(seed)
    return dng_bytes(rng.integers(512, 900, size=(3000, 4000), dtype=np.uint16))


def run_stream(url: str, uploads: list[bytes], enhancer: Enhancer, depth: int) -> float:
    """Submit every upload as a job, then time one worker from first receive to last done; returns seconds."""
    suffix = uuid.uuid4().hex[:8]
    aws = AwsSettings(endpoint_url=url, bucket=f"bench-{suffix}", queue=f"q-{suffix}", dead_letter_queue=f"d-{suffix}")
    create_resources(aws, visibility_timeout=120, max_receives=3)
    store = JobStore(s3_client(aws), aws.bucket)
    sqs = sqs_client(aws)
    queue, dead_letters = JobQueue.named(sqs, aws.queue), JobQueue.named(sqs, aws.dead_letter_queue)
    ids = [submit_job(store, queue, data, "dng", "image/x-adobe-dng", InputKind.RAW, 100.0).job_id for data in uploads]
    settings = WorkerSettings(
        aws=aws, worker_id=f"bench-{depth}", wait_seconds=1, imds_url="", idle_seconds=0, pipeline_depth=depth
    )
    worker = Worker(settings, store, queue, dead_letters, enhancer)
    started = time.perf_counter()
    worker.run(max_jobs=len(uploads))
    seconds = time.perf_counter() - started
    states = [status.state if (status := store.read_status(job_id)) else None for job_id in ids]
    if states.count(JobState.DONE) != len(ids):
        raise RuntimeError(f"not every job finished: {states}")
    return seconds


def run(quick: bool = False, methods: tuple[str, ...] | None = None) -> list[Table]:
    """The classical method on a CPU; with CUDA also the learned one, whose throughput is RAWs per second."""
    import torch

    logging.getLogger("worker").setLevel(logging.WARNING)
    methods = methods or (("baseline", "sid") if torch.cuda.is_available() else ("baseline",))
    jobs = 4 if quick else 12
    uploads = [dark_dng(seed) for seed in range(2)] * (jobs // 2)
    depth = WorkerSettings.pipeline_depth
    table = Table(
        "Worker pipeline: jobs per minute",
        machine("cuda" if "sid" in methods else "cpu"),
        f"{jobs} jobs of a 12 MP DNG (4000x3000, {len(uploads[0]) / 1e6:.0f} MB) per run, "
        "moto server over HTTP in its own process, one worker",
        ["method", "pipeline", "seconds", "jobs/min", "RAWs/s", "speed-up vs sequential"],
    )
    with moto_process() as url:
        for method in methods:
            enhancer = load_enhancer(ModelChoice(method=method))
            sequential = run_stream(url, uploads, enhancer, depth=1)
            overlapped = run_stream(url, uploads, enhancer, depth=depth)
            for label, seconds in (
                ("sequential (pipeline_depth=1, baseline)", sequential),
                (f"overlapped (pipeline_depth={depth})", overlapped),
            ):
                table.add(method, label, seconds, jobs / seconds * 60, jobs / seconds, ratio(sequential, seconds))
            print(f"  pipeline {method}: {sequential:.1f} s sequential, {overlapped:.1f} s overlapped", file=sys.stderr)
    table.notes.append("target: overlapped >= 1.5x the sequential jobs per minute")
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--method", action="append", choices=["baseline", "sid"], help="default: baseline (+sid on GPU)"
    )
    args = parser.parse_args(argv)
    for table in run(args.quick, tuple(args.method) if args.method else None):
        print(table.markdown())


if __name__ == "__main__":
    main()
