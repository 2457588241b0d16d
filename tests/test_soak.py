"""A short soak (``make soak`` scaled down): its report puts the stack's scraped numbers beside the clients'."""

from __future__ import annotations

import pytest

from darkroom.local.config import SoakConfig
from darkroom.local.scrape import total
from darkroom.local.soak import report, run_soak

pytestmark = pytest.mark.slow


def test_a_short_soaks_scrape_agrees_with_what_its_clients_saw() -> None:
    result = run_soak(SoakConfig(seconds=4, clients=2, workers=1, api_processes=2, drain_seconds=90), lambda _: None)
    states = list(result.jobs.values())
    assert states and states.count("done") == len(states)  # nothing failed, nothing lost
    assert result.scraped is not None
    api, workers = result.scraped.api, result.scraped.workers
    assert total(api, "darkroom_jobs_submitted_total", kind="srgb") == len(states)
    assert total(workers, "darkroom_worker_jobs_done_total", kind="srgb") == len(states)
    assert total(workers, "darkroom_job_latency_seconds_count", kind="srgb") == len(states)
    assert f"| jobs accepted | {len(states)} | {len(states)} (API) |" in report(result)
    assert f"| jobs done | {len(states)} | {len(states)} (workers) |" in report(result)
