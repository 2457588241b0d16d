"""The simulator's policies are the product's settings, one to one."""

from __future__ import annotations

from darkroom.simulate.config import Policy
from pool.settings import PoolSettings
from worker.settings import WorkerSettings


def test_a_recommended_policy_reads_back_from_its_settings_unchanged() -> None:
    policy = Policy(max_workers=4, idle_seconds=120.0, min_workers=1, prewarm_lead_seconds=30.0, jobs_per_worker=2)
    env = policy.settings()
    pool, worker = PoolSettings.from_env(env), WorkerSettings.from_env(env)
    read_back = Policy(
        max_workers=pool.max_workers,
        idle_seconds=worker.idle_seconds,
        min_workers=pool.keep_warm.min_workers,
        prewarm_lead_seconds=policy.prewarm_lead_seconds,  # the page's behaviour, not a setting
        jobs_per_worker=pool.jobs_per_worker,
    )
    assert read_back == policy
    assert worker.keep_warm.min_workers == policy.min_workers  # the worker keeps the same floor
