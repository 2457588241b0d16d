"""The hard maximum under a real burst: 100 concurrent submits through a multi-process uWSGI API.

The API runs as ``darkroom up`` runs it (``uwsgi --ini api/uwsgi.ini``) with
four processes and a maximum of three workers, against the session's moto
server. Every instance ever launched with the pool's tag is counted, in any
state: none may be past the maximum.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest
import requests

from darkroom.local.aws import EMULATOR_CREDENTIALS, free_port
from darkroom.local.stack import uwsgi_binary, wait_for_api
from tests.api import samples
from tests.support.aws import PoolWorld, bucket_keys

pytestmark = pytest.mark.slow

SUBMITS = 100
MAX_WORKERS = 3


def pool_env(world: PoolWorld, port: int) -> dict[str, str]:
    pool = world.pool
    return {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        **world.aws.to_env(),
        "DARKROOM_HTTP": f"127.0.0.1:{port}",
        "DARKROOM_API_PROCESSES": "4",
        "DARKROOM_SUBMITS_PER_MINUTE": "1000",  # this test is about the pool's maximum, not the submit limit
        "DARKROOM_POOL_ENABLED": "1",
        "DARKROOM_MAX_WORKERS": str(MAX_WORKERS),
        "DARKROOM_POOL": pool.name,
        "DARKROOM_LAUNCH_TEMPLATE": pool.launch_template,
        "DARKROOM_AMI_PARAMETER": pool.ami_parameter,
        "DARKROOM_SUBNETS": ",".join(pool.subnets),
    }


@pytest.fixture
def uwsgi_api(pool_world: PoolWorld, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "uwsgi.log"
    ini = str(resources.files("api").joinpath("uwsgi.ini"))
    with log.open("wb") as out:
        api = subprocess.Popen([uwsgi_binary(), "--ini", ini], env=pool_env(pool_world, port), stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, api, timeout=90.0)
        yield url, log
    finally:
        api.send_signal(signal.SIGTERM)
        try:
            api.wait(30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()


def test_a_burst_of_submits_never_launches_past_the_maximum(pool_world: PoolWorld, uwsgi_api: tuple[str, Path]) -> None:
    url, log = uwsgi_api
    photo = samples.jpeg(32, 24)

    def post(n: int) -> int:
        files = {"image": (f"night-{n}.jpg", photo, "image/jpeg")}
        return requests.post(f"{url}/v1/jobs", files=files, timeout=120).status_code

    with ThreadPoolExecutor(max_workers=32) as threads:
        statuses = list(threads.map(post, range(SUBMITS)))

    assert statuses == [202] * SUBMITS
    launched = pool_world.instances()  # every state: nothing launched and terminated slips through
    assert len(launched) == MAX_WORKERS  # 100 jobs call for more: the pool reached its maximum, and no further
    assert len([key for key in bucket_keys(pool_world.aws) if key.startswith("pool/slots/")]) == MAX_WORKERS
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    pids = {line.split("[api ")[1].split("]")[0] for line in text.splitlines() if "submitted" in line}
    assert len(pids) > 1, "the submits were all served by one process"
