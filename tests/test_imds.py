"""The fake instance-metadata service speaks IMDSv2 the way EC2 does, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from darkroom.local.imds import TOKEN_HEADER, TTL_HEADER, FakeImds, InstanceIdentity


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def imds(clock: FakeClock) -> Iterator[FakeImds]:
    identity = InstanceIdentity("i-0123456789abcdef0", "g5.xlarge", "us-east-1c", "spot")
    with FakeImds(identity, clock=clock) as server:
        yield server


def token(imds: FakeImds, ttl: int = 60) -> str:
    reply = requests.put(f"{imds.url}/latest/api/token", headers={TTL_HEADER: str(ttl)}, timeout=5)
    assert reply.status_code == 200
    assert reply.headers[TTL_HEADER] == str(ttl)
    return reply.text


def get(imds: FakeImds, path: str, with_token: str | None) -> requests.Response:
    headers = {TOKEN_HEADER: with_token} if with_token is not None else {}
    return requests.get(f"{imds.url}/latest/meta-data/{path}", headers=headers, timeout=5)


@pytest.mark.parametrize("ttl", [None, "0", "21601", "soon"])
def test_a_token_needs_a_ttl_in_range(imds: FakeImds, ttl: str | None) -> None:
    headers = {TTL_HEADER: ttl} if ttl is not None else {}
    assert requests.put(f"{imds.url}/latest/api/token", headers=headers, timeout=5).status_code == 400


def test_metadata_needs_a_valid_token(imds: FakeImds) -> None:
    assert get(imds, "instance-id", None).status_code == 401
    assert get(imds, "instance-id", "made-up").status_code == 401
    assert requests.put(f"{imds.url}/latest/api/token", timeout=5).status_code == 400  # no IMDSv1 fallback either
    reply = get(imds, "instance-id", token(imds))
    assert reply.status_code == 200 and reply.text == "i-0123456789abcdef0"


def test_the_instance_describes_itself(imds: FakeImds) -> None:
    key = token(imds)
    assert get(imds, "instance-type", key).text == "g5.xlarge"
    assert get(imds, "placement/availability-zone", key).text == "us-east-1c"
    assert get(imds, "instance-life-cycle", key).text == "spot"
    assert get(imds, "no/such/thing", key).status_code == 404


def test_a_token_expires_after_its_ttl(imds: FakeImds, clock: FakeClock) -> None:
    key = token(imds, ttl=30)
    clock.now += 29
    assert get(imds, "instance-id", key).status_code == 200
    clock.now += 1
    assert get(imds, "instance-id", key).status_code == 401
    assert get(imds, "instance-id", token(imds)).status_code == 200


def test_no_interruption_until_one_is_injected(imds: FakeImds) -> None:
    key = token(imds)
    assert get(imds, "spot/instance-action", key).status_code == 404
    before = datetime.now(UTC).replace(microsecond=0)
    due = imds.inject_interruption(120)
    reply = get(imds, "spot/instance-action", key)
    assert reply.status_code == 200
    notice = json.loads(reply.text)
    assert notice["action"] == "terminate"
    when = datetime.strptime(notice["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert when == due.replace(microsecond=0)
    assert before + timedelta(seconds=119) <= when
    assert get(imds, "spot/instance-action", None).status_code == 401  # notices are metadata too


def test_a_stop_notice_says_stop(imds: FakeImds) -> None:
    imds.inject_interruption(30, action="stop")
    assert json.loads(get(imds, "spot/instance-action", token(imds)).text)["action"] == "stop"


def test_no_rebalance_recommendation_until_one_is_injected(imds: FakeImds) -> None:
    key = token(imds)
    assert get(imds, "events/recommendations/rebalance", key).status_code == 404
    imds.inject_rebalance()
    reply = get(imds, "events/recommendations/rebalance", key)
    assert reply.status_code == 200
    assert json.loads(reply.text)["noticeTime"].endswith("Z")
    assert get(imds, "spot/instance-action", key).status_code == 404  # a rebalance is not an interruption
