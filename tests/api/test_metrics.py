"""``/metrics``: the API's and the pool's numbers in Prometheus text, from the app and under uWSGI's processes."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from flask.testing import FlaskClient

from darkroom.local.scrape import Samples, samples_of
from tests.api import samples
from tests.api.conftest import pool_app
from tests.api.test_capacity_burst import uwsgi_api  # noqa: F401 - the fixture: the API under uWSGI, 4 processes
from tests.pool.test_provider import no_spot_capacity
from tests.support.aws import PoolWorld


def scrape(client: FlaskClient) -> Samples:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.mimetype == "text/plain"
    return samples_of(reply.get_data(as_text=True))


def test_metrics_count_submits_and_cancels_and_read_the_queue_and_pool(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, max_workers=2).test_client()
    before = scrape(client)
    submitted = ("darkroom_jobs_submitted_total", (("kind", "srgb"),))
    ids = []
    for _ in range(3):
        reply = client.post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")})
        ids.append(reply.get_json()["id"])
    client.delete(f"/v1/jobs/{ids[0]}")
    after = scrape(client)
    assert after[submitted] - before.get(submitted, 0.0) == 3
    assert after[("darkroom_jobs_canceled_total", ())] - before.get(("darkroom_jobs_canceled_total", ()), 0.0) == 1
    assert after[("darkroom_queue_messages", (("queue", "jobs"), ("state", "visible")))] == 3  # canceled, still queued
    assert after[("darkroom_queue_messages", (("queue", "dead-letter"), ("state", "visible")))] == 0
    assert after[("darkroom_pool_workers", (("state", "booting"),))] == 1  # the submits launched one worker
    assert ("darkroom_pool_instance_hours_today", ()) in after


def test_under_uwsgi_every_process_answers_the_sum_of_all_processes_counts(
    pool_world: PoolWorld,
    uwsgi_api: tuple[str, Path],  # noqa: F811 - the fixture imported above
) -> None:
    url, _ = uwsgi_api
    files = {"image": ("night.jpg", samples.jpeg(32, 24), "image/jpeg")}
    with ThreadPoolExecutor(max_workers=8) as threads:
        codes = list(
            threads.map(lambda _: requests.post(f"{url}/v1/jobs", files=files, timeout=60).status_code, range(8))
        )
    assert codes == [202] * 8
    submitted = ("darkroom_jobs_submitted_total", (("kind", "srgb"),))
    scrapes = [samples_of(requests.get(f"{url}/metrics", timeout=30).text) for _ in range(6)]
    assert {scrape[submitted] for scrape in scrapes} == {8.0}  # whichever of the 4 processes answered


def test_launches_are_counted_by_market_and_launches_that_placed_nothing_by_reason(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world, max_workers=2, on_demand_fallback=False).test_client()
    before = scrape(client)
    failed = ("darkroom_pool_launch_failures_total", (("reason", "capacity"),))
    launched = ("darkroom_pool_launches_total", (("lifecycle", "spot"),))
    pool_world.ec2.meta.events.register("before-call.ec2.CreateFleet", no_spot_capacity)
    try:
        assert client.post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")}).status_code == 202
    finally:
        pool_world.ec2.meta.events.unregister("before-call.ec2.CreateFleet", no_spot_capacity)
    middle = scrape(client)
    assert middle[failed] - before.get(failed, 0.0) == 1
    assert middle.get(launched, 0.0) == before.get(launched, 0.0)

    assert client.post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")}).status_code == 202
    after = scrape(client)  # capacity is back: the next submit launches one worker for the two jobs
    assert after[launched] - before.get(launched, 0.0) == 1 == len(pool_world.instances())
    assert after[failed] == middle[failed]
