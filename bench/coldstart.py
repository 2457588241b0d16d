"""Worker cold start: process start to ready (first receive), and to the first result.

A real ``python -m worker --max-jobs 1`` process against a moto server in a
process of its own, with one job (a 1 MP JPEG) already queued; the times are
read from the worker's own log lines as they arrive. The interpreter's own
start (``python -c pass``) is measured in the same run and subtracted, as the
target excludes it. Baseline: the worker with the classical method (no torch
at all); darkroom's learned method must load two models and warm them up, on
torch, on ONNX Runtime or on OpenVINO (``DARKROOM_ENGINE``); on the last two the
worker never imports torch.
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

SID_BOTH = {"DARKROOM_METHOD": "sid", "DARKROOM_SRGB_METHOD": "sid"}
METHOD_ENV = {
    "baseline": {"DARKROOM_METHOD": "baseline", "DARKROOM_SRGB_METHOD": "baseline"},
    "sid": {**SID_BOTH, "DARKROOM_ENGINE": "torch"},
    "sid-onnxruntime": {**SID_BOTH, "DARKROOM_ENGINE": "onnxruntime"},
    "sid-openvino": {**SID_BOTH, "DARKROOM_ENGINE": "openvino"},
}
IMPORTS = {
    "baseline": "",
    "sid": "; import worker.models.enhance",
    "sid-onnxruntime": "; import worker.models.onnx_graph, onnxruntime, onnx",
    "sid-openvino": "; import worker.models.onnx_graph, openvino, onnx",
}
LABELS = {
    "baseline": "baseline (classical, no torch)",
    "sid": "sid on torch (both models loaded and warmed up)",
    "sid-onnxruntime": "sid on onnxruntime (both models built and warmed up; torch never imported)",
    "sid-openvino": "sid on openvino (both models built, compiled and warmed up; torch never imported)",
}


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
    return one_start_with(url, METHOD_ENV[method], method)


def one_start_with(url: str, settings: dict[str, str], method: str) -> tuple[float, float]:
    suffix = uuid.uuid4().hex[:8]
    aws = AwsSettings(endpoint_url=url, bucket=f"cold-{suffix}", queue=f"q-{suffix}", dead_letter_queue=f"d-{suffix}")
    create_resources(aws)
    queue = JobQueue.named(sqs_client(aws), aws.queue)
    submit_job(JobStore(s3_client(aws), aws.bucket), queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, 8.0)
    env = {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        **aws.to_env(),
        **settings,
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
    """The worker's imports (and the engine's, for the learned method), interpreter start taken off."""
    code = "import worker.__main__" + IMPORTS[method]
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def once() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return time.perf_counter() - started

    return statistics.median(once() for _ in range(3)) - interpreter


def installed_mb(names: tuple[str, ...], shared: tuple[str, ...] = ("numpy",)) -> float:
    """Disk taken by distributions ``names`` and everything they require (not ``shared``, which a worker has anyway)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    seen: set[str] = set(shared)
    todo, total = list(names), 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in dist.files or [])
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return total / 2**20


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
        for method in METHOD_ENV:
            starts = [one_start(url, method) for _ in range(repeats)]
            ready = statistics.median(s[0] for s in starts) - interpreter
            done = statistics.median(s[1] for s in starts) - interpreter
            results[method] = (import_seconds(method, interpreter), ready, done)
            print(f"  coldstart {method}: ready {ready:.2f} s, first result {done:.2f} s", file=sys.stderr)
    base_ready = results["baseline"][1]
    for method, (imports, ready, done) in results.items():
        table.add(LABELS[method], imports, ready, done, f"{ready / base_ready:.2f}x")
    table.notes.append(
        f"installed, with what they require (numpy aside): torch {installed_mb(('torch',)):.0f} MB; "
        f"onnxruntime + onnx {installed_mb(('onnxruntime', 'onnx')):.0f} MB; "
        f"openvino + onnx {installed_mb(('openvino', 'onnx')):.0f} MB"
    )
    table.notes.append("target: ready within 3 s of process start on CPU, excluding the interpreter's own start")
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for table in run(parser.parse_args(argv).quick):
        print(table.markdown())


if __name__ == "__main__":
    main()
