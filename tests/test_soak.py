"""A short soak (``make soak`` scaled down): its report puts the stack's scraped numbers beside the clients',
those scraped while the load runs and those after the drain."""

from __future__ import annotations

import pytest

from darkroom.local.config import SoakConfig
from darkroom.local.scrape import total
from darkroom.local.soak import SoakResult, report, run_soak

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result() -> SoakResult:
    config = SoakConfig(seconds=4, clients=2, workers=1, api_processes=2, drain_seconds=90, sample_seconds=1)
    return run_soak(config, lambda _: None)


def test_a_short_soaks_scrape_agrees_with_what_its_clients_saw(result: SoakResult) -> None:
    states = list(result.jobs.values())
    assert states and states.count("done") == len(states)  # nothing failed, nothing lost
    assert result.scraped is not None
    api, workers = result.scraped.api, result.scraped.workers
    assert total(api, "darkroom_jobs_submitted_total", kind="srgb") == len(states)
    assert total(workers, "darkroom_worker_jobs_done_total", kind="srgb") == len(states)
    assert total(workers, "darkroom_job_latency_seconds_count", kind="srgb") == len(states)
    assert f"| jobs accepted | {len(states)} | {len(states)} (API) |" in report(result)
    assert f"| jobs done | {len(states)} | {len(states)} (workers) |" in report(result)


def test_the_apis_metrics_scraped_during_a_soak_count_its_jobs_as_they_are_accepted(result: SoakResult) -> None:
    assert len(result.live) >= 2
    counted = [scrape.accepted_by_api for scrape in result.live]
    assert counted == sorted(counted) and counted[-1] > 0  # the counter grows while the load runs
    for scrape in result.live:  # the API counts a job before its client sees the 202, never after
        assert scrape.accepted_by_clients <= scrape.accepted_by_api <= len(result.jobs)
    assert "| during the load, at |" in report(result)
