"""The IMDSv2 client against the fake metadata service (a real HTTP server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from darkroom.local.aws import free_port
from darkroom.local.imds import FakeImds, InstanceIdentity
from worker.imds import (
    REBALANCE,
    SPOT_INTERRUPTION,
    TOKEN_TTL_SECONDS,
    InstanceMetadata,
    MetadataUnavailable,
    Notice,
    parse_instance_action,
)
from worker.lifecycle import NoticeWatcher

INSTANCE_ID = "i-0123456789abcdef0"


class Clock:
    """The fake's token clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def imds(clock: Clock) -> Iterator[FakeImds]:
    with FakeImds(InstanceIdentity(INSTANCE_ID, instance_type="g5.xlarge"), clock=clock) as fake:
        yield fake


def test_identity_comes_through_the_token_flow(imds: FakeImds) -> None:
    metadata = InstanceMetadata(imds.url)
    assert metadata.instance_id() == INSTANCE_ID
    assert metadata.instance_type() == "g5.xlarge"


def test_an_expired_token_is_renewed_once_and_the_read_succeeds(imds: FakeImds, clock: Clock) -> None:
    metadata = InstanceMetadata(imds.url)
    assert metadata.instance_id() == INSTANCE_ID
    clock.now += TOKEN_TTL_SECONDS + 1  # the service now refuses the cached token with 401
    assert metadata.instance_id() == INSTANCE_ID


def test_no_notice_reads_as_none_then_an_injected_interruption_is_parsed(imds: FakeImds) -> None:
    metadata = InstanceMetadata(imds.url)
    assert metadata.interruption() is None
    assert metadata.rebalance() is False
    when = imds.inject_interruption(90, action="stop")
    notice = metadata.interruption()
    assert notice is not None
    assert (notice.reason, notice.action) == (SPOT_INTERRUPTION, "stop")
    assert notice.deadline == when.replace(microsecond=0)  # IMDS gives whole seconds
    assert notice.deadline.tzinfo is not None


def test_a_rebalance_recommendation_is_seen(imds: FakeImds) -> None:
    metadata = InstanceMetadata(imds.url)
    imds.inject_rebalance()
    assert metadata.rebalance() is True
    assert metadata.interruption() is None


def test_the_watcher_prefers_an_interruption_to_a_rebalance(imds: FakeImds) -> None:
    seen: list[Notice] = []
    watcher = NoticeWatcher(InstanceMetadata(imds.url), interval=60, on_notice=seen.append)
    assert watcher.poll() is None
    imds.inject_rebalance()
    rebalance = watcher.poll()
    assert rebalance is not None and rebalance.reason == REBALANCE and rebalance.deadline is None
    imds.inject_interruption(120)
    interruption = watcher.poll()
    assert interruption is not None and interruption.reason == SPOT_INTERRUPTION and interruption.deadline is not None
    with watcher:  # looks once as it starts, before the loop takes any work
        assert seen == [interruption]


def test_an_unreachable_service_is_unavailable_not_a_hang() -> None:
    metadata = InstanceMetadata(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(MetadataUnavailable):
        metadata.instance_id()
    assert NoticeWatcher(metadata, interval=60, on_notice=print).poll() is None  # a failed poll is not a notice


def test_an_unreadable_instance_action_is_an_error() -> None:
    notice = parse_instance_action('{"action": "terminate", "time": "2026-11-21T19:00:00Z"}')
    assert notice.deadline == datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    for text in ("<html>", '{"action": "terminate"}', '{"action": "stop", "time": "soon"}', "[]"):
        with pytest.raises(MetadataUnavailable):
            parse_instance_action(text)
