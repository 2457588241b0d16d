"""The simulator checked against the local stack: the same short trace through the fleet emulator and the model.

The stack runs in pool mode (moto's EC2, the API under uWSGI launching
instances, the fleet emulator playing each as a worker process) with a
scaled-down boot time, idle timeout and long poll. Jobs are submitted at the
trace's times; each one's submit-to-done latency comes from its status
document (queued -> done), its service time from processing -> done, and each
instance's boot-to-ready time from its launch time and its worker's record.
The simulator then runs the same trace with the same pool settings, the
measured per-job service times and boots drawn from the measured ones, over
several seeds; the report gives both p50/p95 and the difference.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import requests
from PIL import Image

from darkroom.dng import synthetic_dark_dng
from darkroom.local.aws import free_port
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.stack import LocalStack
from darkroom.simulate.arrivals import Trace
from darkroom.simulate.config import Policy
from darkroom.simulate.costs import percentiles
from darkroom.simulate.pool import PoolModel, simulate
from darkroom.simulate.tables import BootTime, ServiceTime
from jobs.aws import ec2_client, s3_client
from jobs.pool import POOL_TAG
from jobs.settings import AwsSettings
from jobs.status import parse_iso
from jobs.store import JobStore

log = logging.getLogger(__name__)

JOBS_PER_WORKER = 4  # the API's default (pool/settings.py)


@dataclass(frozen=True)
class EmulatorCheck:
    jobs: int = 24
    seconds: float = 60.0  # the trace's length
    max_workers: int = 2
    boot_seconds: float = 3.0  # the fleet's launch-to-process delay (the worker's own start comes on top)
    idle_seconds: float = 8.0
    poll_seconds: int = 1  # the workers' long poll
    raw_fraction: float = 0.3
    seed: int = 0
    sim_runs: int = 30  # simulator seeds averaged


@dataclass(frozen=True)
class Measured:
    kind: str
    submitted: float  # seconds after the first submit
    latency: float  # queued -> done
    service: float  # processing -> done


@dataclass(frozen=True)
class CheckResult:
    config: EmulatorCheck
    jobs: list[Measured]
    boots: list[float]
    emulator: tuple[float, float]  # p50, p95
    simulated: tuple[float, float]  # means over seeds
    simulated_spread: tuple[float, float]  # standard deviations over seeds
    wall_seconds: float


def sample_images() -> dict[str, tuple[str, bytes]]:
    """One upload per kind, about half a second of baseline work each on these CPUs."""
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((1600, 1200)).convert("RGB").point(lambda v: v // 20).save(buf, "JPEG")
    return {"raw": ("dark.dng", synthetic_dark_dng(1500, 2000)), "jpeg": ("dark.jpg", buf.getvalue())}


def check_against_emulator(config: EmulatorCheck) -> CheckResult:
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    times = np.sort(rng.uniform(0.0, config.seconds, config.jobs))
    times -= times[0]
    kinds = tuple("raw" if r else "jpeg" for r in rng.uniform(size=config.jobs) < config.raw_fraction)
    jobs, boots = run_on_emulator(config, times, kinds)
    emulator = percentiles(np.array([job.latency for job in jobs]))
    simulated = simulate_same(config, jobs, boots)
    return CheckResult(
        config,
        jobs,
        boots,
        (emulator[0], emulator[1]),
        (float(simulated[:, 0].mean()), float(simulated[:, 1].mean())),
        (float(simulated[:, 0].std()), float(simulated[:, 1].std())),
        time.perf_counter() - started,
    )


def run_on_emulator(
    config: EmulatorCheck, times: np.ndarray, kinds: tuple[str, ...]
) -> tuple[list[Measured], list[float]]:
    suffix = uuid.uuid4().hex[:8]
    stack = LocalStack(
        StackConfig(
            aws=AwsSettings(bucket=f"sim-{suffix}", queue=f"sim-{suffix}", dead_letter_queue=f"sim-dlq-{suffix}"),
            api_port=free_port(),
            moto_port=free_port(),
            method="baseline",  # the stack's behaviour, not a model's: seconds per job on a CPU
            pool=PoolConfig(
                name=f"sim-{suffix}",
                max_workers=config.max_workers,
                boot_seconds=config.boot_seconds,
                idle_seconds=config.idle_seconds,
            ),
            api_processes=2,
            wait_seconds=config.poll_seconds,
            extra_env={"DARKROOM_DLQ_SWEEP_SECONDS": "0"},
        )
    )
    images = sample_images()
    stack.start()
    try:
        ids = submit_at(stack.config.api_url, times, kinds, images)
        statuses = wait_done(stack.config.api_url, ids, timeout=config.seconds + 120)
        boots = boot_times(stack)
    finally:
        stack.stop()
    first = min(parse_iso(s["stages"]["queued"]) for s in statuses)
    jobs = [measured(s, kind, first) for s, kind in zip(statuses, kinds, strict=True)]
    return jobs, boots


def submit_at(url: str, times: np.ndarray, kinds: tuple[str, ...], images: dict[str, tuple[str, bytes]]) -> list[str]:
    ids, start = [], time.monotonic()
    for at, kind in zip(times, kinds, strict=True):
        time.sleep(max(0.0, start + float(at) - time.monotonic()))
        name, data = images[kind]
        reply = requests.post(f"{url}/v1/jobs", files={"image": (name, data)}, timeout=60)
        reply.raise_for_status()
        ids.append(reply.json()["id"])
        log.info("submitted %s (%s) at %.1f s", ids[-1], kind, time.monotonic() - start)
    return ids


def wait_done(url: str, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    """Poll every job as a client does (which also keeps the pool's capacity up) until all are done."""
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(finished)} jobs not done after {timeout:.0f} s")
        for job_id in ids:
            if job_id not in finished:
                status = requests.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()
                if status["status"] in ("done", "failed"):
                    if status["status"] == "failed":
                        raise RuntimeError(f"job {job_id} failed: {status.get('error')}")
                    finished[job_id] = status
        time.sleep(0.5)
    return [finished[job_id] for job_id in ids]


def measured(status: dict[str, Any], kind: str, first: datetime) -> Measured:
    stages = status["stages"]
    queued, processing, done = (parse_iso(stages[name]) for name in ("queued", "processing", "done"))
    return Measured(
        kind, (queued - first).total_seconds(), (done - queued).total_seconds(), (done - processing).total_seconds()
    )


def boot_times(stack: LocalStack) -> list[float]:
    """Per instance: EC2 launch time to its worker's ready time."""
    assert stack.config.pool is not None
    reply = ec2_client(stack.aws).describe_instances(
        Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [stack.config.pool.name]}]
    )
    launched = {i["InstanceId"]: i["LaunchTime"] for r in reply["Reservations"] for i in r["Instances"]}
    records = JobStore(s3_client(stack.aws), stack.aws.bucket).read_workers()
    return [
        (parse_iso(record.ready_at) - launched[record.instance_id]).total_seconds()
        for record in records
        if record.ready_at is not None and record.instance_id in launched
    ]


def simulate_same(config: EmulatorCheck, jobs: list[Measured], boots: list[float]) -> np.ndarray:
    """(p50, p95) of the simulator per seed, on the measured trace and service times."""
    trace = Trace(np.array([j.submitted for j in jobs]), tuple(j.kind for j in jobs), config.seconds)
    services = np.array([j.service for j in jobs])
    low, high = (min(boots), max(boots)) if boots else (config.boot_seconds, config.boot_seconds)
    boot = BootTime(low, float(np.mean(boots)) if boots else low, high, "measured on the emulator")
    mean = {kind: float(np.mean([j.service for j in jobs if j.kind == kind] or [0.0])) for kind in ("raw", "jpeg")}
    model = PoolModel(boot, {k: ServiceTime(v) for k, v in mean.items()}, poll_seconds=config.poll_seconds)
    policy = Policy(max_workers=config.max_workers, idle_seconds=config.idle_seconds, jobs_per_worker=JOBS_PER_WORKER)
    rows = []
    for seed in range(config.sim_runs):
        outcome = simulate(trace, model, policy, seed, services)
        rows.append(percentiles(outcome.latencies)[:2])
    return np.array(rows)


def render_check(result: CheckResult) -> str:
    c = result.config
    (e50, e95), (s50, s95), (d50, d95) = result.emulator, result.simulated, result.simulated_spread
    service = np.array([j.service for j in result.jobs])
    return "\n".join(
        [
            f"{len(result.jobs)} jobs over {c.seconds:g} s, max {c.max_workers} workers, idle {c.idle_seconds:g} s, "
            f"fleet boot delay {c.boot_seconds:g} s, long poll {c.poll_seconds} s",
            f"measured boot-to-ready: {', '.join(f'{b:.1f}' for b in result.boots)} s; "
            f"service: mean {service.mean():.2f} s, max {service.max():.2f} s",
            f"{'':12}{'p50 s':>8}{'p95 s':>8}",
            f"{'emulator':12}{e50:8.2f}{e95:8.2f}",
            f"{'simulator':12}{s50:8.2f}{s95:8.2f}   (mean of {c.sim_runs} seeds; sd {d50:.2f} / {d95:.2f})",
            f"{'difference':12}{s50 - e50:+8.2f}{s95 - e95:+8.2f}   (simulator - emulator)",
            f"wall time {result.wall_seconds:.0f} s",
        ]
    )
