"""DARKROOM_TIER=auto through the API's timer against moto: S3 (the shared record), SQS (the backlog), EC2
(launches) and Lambda (the event source mapping's Enabled state, switched for real through moto's server)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import pytest

from api.services import Services
from api.settings import ApiSettings
from api.tick import Arrivals, tick
from darkroom.local.aws import create_function_switch
from jobs.aws import ServiceUnavailable, lambda_client
from jobs.settings import AwsSettings, SettingsError
from pool.autotier import TIER_KEY, TierBook
from pool.switch import LambdaTier
from pool.tiers import LAMBDA, POOL
from tests.pool.test_provider import enqueue
from tests.support.aws import PoolWorld, s3_of, sqs_of

QUIET = 1.0  # seconds: a test's quiet period, long enough to see a lull, short enough to wait out


@dataclass(frozen=True)
class AutoWorld:
    pool: PoolWorld
    mapping: LambdaTier  # the function's event source mapping in moto, as the API sees it

    def services(self, **pool_overrides: object) -> Services:
        """An API host: small thresholds (3 waiting, or 5 arrivals an hour) and a short quiet period."""
        fields: dict[str, object] = {
            "tier": "auto",
            "lambda_mapping": self.mapping.mapping_id,
            "auto_pool_backlog": 3,
            "auto_pool_per_hour": 5.0,
            "auto_quiet_seconds": QUIET,
        }
        pool = dataclasses.replace(self.pool.pool, **{**fields, **pool_overrides})  # type: ignore[arg-type]
        world = self.pool
        settings = ApiSettings(aws=world.aws, pool=pool)
        return Services(settings, s3_of(world.aws), sqs_of(world.aws), world.ec2, world.ssm, self.mapping.awslambda)

    def drain(self) -> None:
        url = sqs_of(self.pool.aws).get_queue_url(QueueName=self.pool.aws.queue)["QueueUrl"]
        sqs_of(self.pool.aws).purge_queue(QueueUrl=url)


def object_keys(world: AutoWorld) -> list[str]:
    listed = s3_of(world.pool.aws).list_objects_v2(Bucket=world.pool.aws.bucket, Prefix="pool/")
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def auto_world(pool_world: PoolWorld) -> AutoWorld:
    """The pool world and, like the template with Tier=auto, the function's mapping enabled."""
    name = f"{pool_world.pool.name}-worker"
    mapping_id = create_function_switch(pool_world.aws, name, enabled=True)
    return AutoWorld(pool_world, LambdaTier(lambda_client(pool_world.aws), mapping_id))


def test_at_low_traffic_the_function_serves_and_nothing_is_launched(auto_world: AutoWorld) -> None:
    enqueue(auto_world.pool, 2)  # below the backlog threshold
    tick(auto_world.services(), arrivals=4)  # below the arrivals threshold
    assert auto_world.mapping.enabled()
    assert auto_world.pool.instances() == []


def test_a_burst_flips_auto_to_the_pool_and_quiet_past_the_quiet_period_flips_it_back(
    auto_world: AutoWorld,
) -> None:
    services = auto_world.services()
    enqueue(auto_world.pool, 3)  # the backlog at its threshold
    tick(services)
    assert not auto_world.mapping.enabled()  # the function receives no more
    assert len(auto_world.pool.instances()) == 1  # and a spot worker is coming for the three jobs
    auto_world.drain()
    time.sleep(QUIET + 0.2)
    tick(services)
    assert auto_world.mapping.enabled()
    assert len(auto_world.pool.instances()) == 1  # nothing more launched (the one there stops itself when idle)
    enqueue(auto_world.pool, 2)  # a job or two later: the function takes them
    tick(services)
    assert auto_world.mapping.enabled() and len(auto_world.pool.instances()) == 1


def test_a_lull_shorter_than_the_quiet_period_does_not_flip_back(auto_world: AutoWorld) -> None:
    services = auto_world.services(auto_quiet_seconds=300.0)
    enqueue(auto_world.pool, 3)
    tick(services)
    auto_world.drain()
    tick(services)
    assert not auto_world.mapping.enabled()  # still the pool: the burst may come back


def test_arrivals_from_every_host_add_up_in_the_shared_record(auto_world: AutoWorld) -> None:
    """Two API hosts each see 3 submits: neither alone reaches 5 an hour, together they do."""
    first, second = auto_world.services(), auto_world.services()
    tick(first, arrivals=3)
    assert auto_world.mapping.enabled()
    tick(second, arrivals=3)
    assert not auto_world.mapping.enabled()
    assert first.auto_tier.decide() == POOL  # the first host reads the same record and the same mapping
    assert TIER_KEY in object_keys(auto_world)


def test_a_request_reads_the_timers_decision_and_decides_nothing(auto_world: AutoWorld) -> None:
    services = auto_world.services()
    assert services.serving_tier(max_age=60) == LAMBDA
    enqueue(auto_world.pool, 3)  # a backlog at the threshold: only the timer acts on it
    assert services.serving_tier(max_age=0) == LAMBDA and auto_world.mapping.enabled()
    tick(services)
    assert services.serving_tier(max_age=60) == POOL  # this process's timer decided it just now
    other = auto_world.services()  # another process, which never ticked, reads the mapping
    assert other.serving_tier(max_age=0) == POOL


def test_a_burst_the_pool_cannot_serve_today_stays_with_the_function(auto_world: AutoWorld) -> None:
    """The daily cap used up: a busy queue handed to the pool would wait for midnight, so the function keeps it."""
    services = auto_world.services()
    enqueue(auto_world.pool, 3)
    assert services.auto_tier.decide(pool_capped="the daily cap of 1 instance-hours is used up") == LAMBDA
    assert auto_world.mapping.enabled() and auto_world.pool.instances() == []
    assert services.auto_tier.decide() == POOL  # with the pool able to launch again, the rule applies


def test_when_the_tier_cannot_be_decided_the_tick_goes_on_and_counts_the_arrivals_later(
    auto_world: AutoWorld,
) -> None:
    services = auto_world.services(lambda_mapping="00000000-0000-0000-0000-000000000000")  # Lambda knows none
    enqueue(auto_world.pool, 1)
    assert tick(services, arrivals=3) is False  # not counted: the next tick counts them
    assert TIER_KEY not in object_keys(auto_world)
    assert len(auto_world.pool.instances()) == 1  # with no decision yet the pool serves: the job gets a worker


def test_a_tier_record_that_does_not_parse_is_started_afresh(auto_world: AutoWorld) -> None:
    aws = auto_world.pool.aws
    s3_of(aws).put_object(Bucket=aws.bucket, Key=TIER_KEY, Body=b"{not json")
    services = auto_world.services()
    assert tick(services, arrivals=1) is True
    assert services.serving_tier(max_age=60) == LAMBDA
    record, _ = TierBook(services.store.bucket).read()
    assert [count for _, count in record.minutes] == [1]  # the bad record was replaced


def test_auto_without_the_mapping_is_refused_at_start(auto_world: AutoWorld) -> None:
    with pytest.raises(SettingsError, match="DARKROOM_LAMBDA_MAPPING"):
        auto_world.services(lambda_mapping="")


def test_the_timer_counts_this_hosts_submits_since_its_last_look() -> None:
    totals = iter([10, 14, 14, 2])  # the last: the server restarted, its counter with it
    arrivals = Arrivals(lambda: next(totals))
    assert arrivals.pending() == 4
    arrivals.counted()
    assert arrivals.pending() == 0
    assert arrivals.pending() == 2  # 14 still not counted: a restart starts the counter again from 0
    arrivals.counted()


def test_a_mapping_lambda_does_not_know_is_service_unavailable(aws: AwsSettings) -> None:
    with pytest.raises(ServiceUnavailable, match="event source mapping"):
        LambdaTier(lambda_client(aws), "00000000-0000-0000-0000-000000000000").enabled()  # no such mapping


def test_while_the_function_serves_the_timer_still_reaps(auto_world: AutoWorld) -> None:
    """A spot worker that never became ready is terminated even though the pool launches nothing now, so
    today's instance-hours stay true for the daily cap and its alarm."""
    enqueue(auto_world.pool, 1)
    auto_world.services().provider.ensure_capacity(warm=False)  # launched while the pool served
    auto_world.drain()
    time.sleep(1.2)  # past the boot timeout below, with no worker record: it never became ready
    tick(auto_world.services(boot_timeout_seconds=1))  # quiet: the function serves; this host's reaper is due
    assert auto_world.mapping.enabled()
    assert [item["State"]["Name"] for item in auto_world.pool.instances()] == ["terminated"]
