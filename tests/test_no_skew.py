"""No skew between the tiers: the same DNG and JPEG through the EC2 worker (``python -m worker``) and through
the Lambda handler (``worker.lambda_handler``, under the local event source mapping) give byte-identical
results. Each side is its own process, starting from its own entry point and loading its own models."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from darkroom.dng import synthetic_dark_dng, synthetic_dark_srgb
from darkroom.local.aws import EMULATOR_CREDENTIALS
from jobs.ids import result_key
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobState
from tests.worker.conftest import Parts

pytestmark = pytest.mark.slow

LEARNED = {"DARKROOM_METHOD": "sid", "DARKROOM_SRGB_METHOD": "sid"}  # both models, not only the classical method
# torch's CPU convolutions on two threads are not bitwise reproducible from one process to the next (the same
# DNG through run_pipeline in four processes gave two different JPEGs); on one thread they are, so both
# sides run on one and any difference left is the tiers' own
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def dark_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(synthetic_dark_srgb(96, 128, 1 / 50)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


INPUTS = ((synthetic_dark_dng(96, 128), "dng", InputKind.RAW), (dark_jpeg(), "jpg", InputKind.SRGB))


def env_for(aws: AwsSettings, **extra: str) -> dict[str, str]:
    return {
        **EMULATOR_CREDENTIALS,
        **aws.to_env(),
        **LEARNED,
        **ONE_THREAD,
        "PATH": "/usr/bin:/bin",
        "DARKROOM_IMDS_URL": "",
        "DARKROOM_WAIT_SECONDS": "1",
        **extra,
    }


@pytest.fixture
def lambda_tier(aws: AwsSettings) -> Iterator[subprocess.Popen[bytes]]:
    env = env_for(aws, DARKROOM_WORKER_ID="lambda:test", DARKROOM_LAMBDA_BATCH_SIZE="2")
    poller = subprocess.Popen([sys.executable, "-m", "darkroom.local.event_source"], env=env)
    yield poller
    poller.send_signal(signal.SIGTERM)
    poller.wait(60)


def results_of(parts: Parts, job_ids: list[str], timeout: float = 240.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while any(parts.status(job_id).state is not JobState.DONE for job_id in job_ids):
        assert time.monotonic() < deadline, [parts.status(job_id) for job_id in job_ids]
        time.sleep(0.2)
    results = [parts.store.get(result_key(job_id)) for job_id in job_ids]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def test_the_lambda_handler_and_the_ec2_worker_give_byte_identical_results(
    aws: AwsSettings, request: pytest.FixtureRequest
) -> None:
    parts = Parts.of(aws)
    on_ec2 = [parts.submit(data, ext, kind) for data, ext, kind in INPUTS]
    worker = subprocess.run(
        [sys.executable, "-m", "worker", "--max-jobs", "2"], env=env_for(aws), timeout=300, check=False
    )
    assert worker.returncode == 0
    from_worker = results_of(parts, on_ec2)

    request.getfixturevalue("lambda_tier")  # started only now: the queue holds only the Lambda tier's jobs
    on_lambda = [parts.submit(data, ext, kind) for data, ext, kind in INPUTS]
    from_function = results_of(parts, on_lambda)

    assert [parts.status(job_id).worker for job_id in on_lambda] == ["lambda:test"] * 2
    assert [parts.status(job_id).method for job_id in on_ec2 + on_lambda] == ["sid", "sid-srgb"] * 2
    assert from_function == from_worker
