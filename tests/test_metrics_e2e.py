"""Metrics scraped from the local stack while it runs jobs: the API's /metrics and a worker's own port.

A pool stack (the API launches, the fleet emulator plays the instance as a
worker process) runs a few jobs of each kind; the scrapes must show exactly
those jobs: submits by kind and the launch on the API, and on the worker
jobs done, latencies and every stage by kind.
"""

from __future__ import annotations

import pytest

from darkroom.dng import synthetic_dark_dng
from darkroom.local.scrape import scrape, total
from tests.support.pool_stack import StartStack, fleet_of, instances, job_in, small_jpeg, submit
from worker.metrics import STAGES

pytestmark = pytest.mark.slow


def test_scrapes_of_the_api_and_the_worker_count_the_jobs_the_stack_ran(start_stack: StartStack) -> None:
    stack = start_stack(max_workers=1)
    api = f"{stack.config.api_url}/metrics"
    assert total(scrape(api), "darkroom_jobs_submitted_total") == 0
    uploads = [(small_jpeg(), "dark.jpg"), (small_jpeg(160, 120), "night.jpg"), (synthetic_dark_dng(64, 96), "a.dng")]
    accepted = [submit(stack, data, filename)["id"] for data, filename in uploads]
    for job_id in accepted:
        assert job_in(stack, job_id, {"done", "failed"})["status"] == "done"

    from_api = scrape(api)
    assert total(from_api, "darkroom_jobs_submitted_total", kind="srgb") == 2
    assert total(from_api, "darkroom_jobs_submitted_total", kind="raw") == 1
    (instance_id,) = instances(stack)
    assert total(from_api, "darkroom_pool_launches_total", lifecycle="spot") == 1  # the one instance in EC2
    assert total(from_api, "darkroom_pool_launch_failures_total") == 0
    assert total(from_api, "darkroom_queue_messages", queue="jobs") == 0

    url = fleet_of(stack).metrics_url(instance_id)
    assert url is not None
    worker = scrape(url)
    for kind, count in (("srgb", 2), ("raw", 1)):
        assert total(worker, "darkroom_worker_jobs_done_total", kind=kind) == count
        assert total(worker, "darkroom_job_latency_seconds_count", kind=kind) == count
        assert total(worker, "darkroom_job_latency_seconds_sum", kind=kind) > 0
        for stage in STAGES:
            assert total(worker, "darkroom_worker_stage_seconds_count", kind=kind, stage=stage) == count, stage
    assert total(worker, "darkroom_worker_jobs_failed_total") == 0
