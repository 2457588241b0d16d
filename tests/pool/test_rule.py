"""The scaling rule and the settings that feed it: pure code, no servers."""

from __future__ import annotations

import itertools

import pytest

from jobs.settings import SettingsError
from pool.rule import PoolCounts, desired_workers, workers_to_launch
from pool.settings import PoolSettings


def counts(
    visible: int = 0, in_flight: int = 0, ready: int = 0, busy: int = 0, booting: int = 0, extra: int = 0
) -> PoolCounts:
    """``extra``: draining or stopped instances, which hold a slot but serve nobody."""
    return PoolCounts(visible, in_flight, ready, busy, booting, occupied=ready + busy + booting + extra)


def test_an_idle_pool_launches_nothing() -> None:
    assert workers_to_launch(counts(), jobs_per_worker=4, max_workers=3, warm=False) == 0


def test_the_first_job_launches_one_worker() -> None:
    assert workers_to_launch(counts(visible=1), jobs_per_worker=4, max_workers=3, warm=False) == 1


def test_the_keep_warm_floor_launches_without_demand_and_never_past_the_maximum() -> None:
    assert workers_to_launch(counts(), 4, 3, warm=False, floor=2) == 2
    assert workers_to_launch(counts(ready=1), 4, 3, warm=False, floor=2) == 1
    assert workers_to_launch(counts(visible=20), 4, 3, warm=False, floor=1) == 3  # demand above the floor
    assert workers_to_launch(counts(extra=2), 4, 3, warm=False, floor=2) == 1  # a draining one holds a slot


def test_a_warm_request_wants_one_worker_and_only_one() -> None:
    assert workers_to_launch(counts(), 4, 3, warm=True) == 1
    assert workers_to_launch(counts(booting=1), 4, 3, warm=True) == 0
    assert workers_to_launch(counts(ready=1), 4, 3, warm=True) == 0


def test_demand_counts_visible_and_in_flight_messages_per_worker() -> None:
    assert desired_workers(visible=4, in_flight=0, jobs_per_worker=4, warm=False) == 1
    assert desired_workers(visible=4, in_flight=1, jobs_per_worker=4, warm=False) == 2
    assert desired_workers(visible=9, in_flight=0, jobs_per_worker=1, warm=False) == 9
    assert workers_to_launch(counts(visible=6, in_flight=2, busy=1), 4, 10, warm=False) == 1


def test_booting_workers_count_as_coming() -> None:
    assert workers_to_launch(counts(visible=8, booting=2), 4, 3, warm=False) == 0


def test_draining_workers_do_not_serve_but_hold_their_slot() -> None:
    # One worker drains with its job in flight: a replacement is launched, within the maximum.
    assert workers_to_launch(counts(visible=1, in_flight=1, extra=1), 4, 3, warm=False) == 1
    assert workers_to_launch(counts(visible=9, in_flight=1, extra=3), 4, 3, warm=False) == 0


def test_never_more_than_the_maximum_whatever_the_demand() -> None:
    for visible, in_flight, ready, busy, booting, extra in itertools.product(
        range(0, 30, 7), range(3), *[range(3)] * 4
    ):
        c = counts(visible, in_flight, ready, busy, booting, extra)
        for max_workers, warm in itertools.product((1, 3, 5), (False, True)):
            launch = workers_to_launch(c, jobs_per_worker=2, max_workers=max_workers, warm=warm)
            assert launch >= 0
            assert launch == 0 or c.occupied + launch <= max_workers


def test_pool_settings_from_env() -> None:
    settings = PoolSettings.from_env(
        {
            "DARKROOM_POOL_ENABLED": "1",
            "DARKROOM_POOL": "night",
            "DARKROOM_MAX_WORKERS": "7",
            "DARKROOM_JOBS_PER_WORKER": "2",
            "DARKROOM_LAUNCH_TEMPLATE": "lt",
            "DARKROOM_AMI_PARAMETER": "/ami",
            "DARKROOM_INSTANCE_TYPES": "g5.xlarge, g4dn.xlarge",
            "DARKROOM_SUBNETS": "subnet-1,subnet-2",
            "DARKROOM_SPOT": "no",
            "DARKROOM_ON_DEMAND_FALLBACK": "false",
            "DARKROOM_BOOT_TIMEOUT": "300",
            "DARKROOM_WARM_PER_MINUTE": "2",
        }
    )
    assert (settings.enabled, settings.name, settings.max_workers, settings.jobs_per_worker) == (True, "night", 7, 2)
    assert (settings.launch_template, settings.ami_parameter) == ("lt", "/ami")
    assert settings.instance_types == ("g5.xlarge", "g4dn.xlarge")
    assert settings.subnets == ("subnet-1", "subnet-2")
    assert (settings.spot, settings.on_demand_fallback, settings.boot_timeout_seconds) == (False, False, 300)
    assert settings.warm_per_minute == 2


def test_pool_defaults_keep_ec2_out_of_a_static_setup() -> None:
    settings = PoolSettings.from_env({})
    assert settings == PoolSettings()
    assert not settings.enabled
    assert settings.instance_types == ("g6.xlarge", "g5.xlarge", "g4dn.xlarge")
    assert (settings.name, settings.max_workers, settings.launch_template) == ("darkroom", 3, "darkroom-worker")


@pytest.mark.parametrize("env", [{"DARKROOM_MAX_WORKERS": "0"}, {"DARKROOM_POOL_ENABLED": "maybe"}])
def test_bad_pool_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        PoolSettings.from_env(env)
