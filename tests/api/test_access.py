"""API keys and submit limits: hashed keys, bearer or header, a public limit for the keyless demo page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.access import AccessSettings, key_hash, new_key
from api.ratelimit import RateLimiter
from api.services import EXTENSION_KEY, Services
from jobs.settings import AwsSettings, SettingsError
from jobs.store import JobStore
from tests.api import samples
from tests.api.conftest import MakeApp, post_to_storage, sign
from tests.support.aws import bucket_keys, queue_messages, s3_of

KEY, KEY_HASH = new_key()
OTHER_KEY, OTHER_HASH = new_key()


def keyed(make_app: MakeApp, **access: object) -> FlaskClient:
    settings = AccessSettings(**{"key_hashes": (KEY_HASH, OTHER_HASH), "require_key": True, **access})  # type: ignore[arg-type]
    return make_app(access=settings).test_client()


def submit(client: FlaskClient, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    response = client.post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")}, headers=headers or {})
    return response.status_code, response.get_json()


def test_keys_are_random_prefixed_and_only_their_hash_is_configured() -> None:
    assert KEY.startswith("drk_") and len(KEY) > 40 and KEY != OTHER_KEY
    assert key_hash(KEY) == KEY_HASH and len(KEY_HASH) == 64 and KEY not in KEY_HASH
    assert AccessSettings.from_env({"DARKROOM_API_KEY_HASHES": f" {KEY_HASH.upper()} ,{OTHER_HASH}"}).key_hashes == (
        KEY_HASH,
        OTHER_HASH,
    )
    with pytest.raises(SettingsError, match="64"):
        AccessSettings(key_hashes=(KEY,))  # a key pasted where its hash belongs
    with pytest.raises(SettingsError, match="no key"):
        AccessSettings(require_key=True)


def test_with_keys_required_a_bearer_or_header_key_submits(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app, public_submits_per_hour=0)
    assert submit(client, {"Authorization": f"Bearer {KEY}"})[0] == 202
    assert submit(client, {"X-API-Key": OTHER_KEY})[0] == 202
    assert queue_messages(aws) == 2


def test_a_missing_or_wrong_key_is_a_401_and_nothing_is_stored(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app, public_submits_per_hour=0)
    status, problem = submit(client)
    assert status == 401 and problem["type"] == "urn:darkroom:problem:api-key-required"
    response = client.post("/v1/jobs", headers={"Authorization": "Bearer drk_not-a-key"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["type"] == "urn:darkroom:problem:invalid-api-key"
    assert client.get("/v1/pool").status_code == 401
    assert client.get("/v1/jobs/4b1f2a36-6c55-4c4f-9c51-7a0e2f3d9b10").status_code == 401  # a closed API
    assert client.get("/v1/pool", headers={"X-API-Key": KEY}).status_code == 200
    assert bucket_keys(aws) == [] and queue_messages(aws) == 0


def test_a_wrong_key_is_refused_even_when_keys_are_optional(make_app: MakeApp) -> None:
    client = make_app(access=AccessSettings(key_hashes=(KEY_HASH,))).test_client()
    assert submit(client)[0] == 202
    assert submit(client, {"X-API-Key": "drk_guess"})[0] == 401


def test_the_keyless_demo_page_gets_its_own_public_limit(make_app: MakeApp) -> None:
    client = keyed(make_app, public_submits_per_hour=2)
    answers = [submit(client) for _ in range(3)]
    assert [status for status, _ in answers] == [202, 202, 429]
    status, problem = submit(client)
    assert status == 429 and "without an API key" in str(problem["detail"])
    assert submit(client, {"X-API-Key": KEY})[0] == 202  # a key is not held to the public limit
    made_without_a_key = answers[0][1]["id"]
    assert client.get(f"/v1/jobs/{made_without_a_key}").status_code == 200  # the id is the capability


def test_submits_are_limited_per_key_and_answer_retry_after(make_app: MakeApp) -> None:
    client = keyed(make_app, submits_per_minute=2)
    statuses = [submit(client, {"X-API-Key": KEY})[0] for _ in range(3)]
    assert statuses == [202, 202, 429]
    response = client.post("/v1/jobs", headers={"X-API-Key": KEY})
    assert response.status_code == 429 and 0 < int(response.headers["Retry-After"]) <= 60
    assert submit(client, {"X-API-Key": OTHER_KEY})[0] == 202  # each key has its own budget


def test_a_direct_upload_counts_when_signed_and_when_submitted(make_app: MakeApp) -> None:
    client = keyed(make_app, public_submits_per_hour=2)
    data = samples.dng()
    upload = sign(client, "night.dng", len(data))  # the first of two keyless submits this hour
    post_to_storage(upload, data)
    assert client.post("/v1/jobs", json={"upload_id": upload["id"]}).status_code == 202  # the second
    assert client.post("/v1/jobs", json={"upload_id": "a guess"}).status_code == 429  # a JSON submit counts too
    assert client.post("/v1/uploads", json={"filename": "x.dng", "size": 10}).status_code == 429


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(make_app: MakeApp) -> None:
    client = make_app(access=AccessSettings(submits_per_minute=1, trusted_proxies=1)).test_client()
    alb = {"REMOTE_ADDR": "10.0.0.5"}  # every request arrives from the load balancer

    def from_client(address: str) -> int:
        headers = {"X-Forwarded-For": f"198.51.100.9, {address}"}  # the first is the client's own claim: ignored
        return submit_as(client, headers, alb)

    assert [from_client("203.0.113.1"), from_client("203.0.113.2"), from_client("203.0.113.1")] == [202, 202, 429]


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(make_app: MakeApp) -> None:
    client = make_app(access=AccessSettings(submits_per_minute=1)).test_client()
    statuses = [submit_as(client, {"X-Forwarded-For": f"203.0.113.{n}"}, {}) for n in (1, 2)]
    assert statuses == [202, 429]  # a client cannot pick a new address per request


def test_ipv6_clients_are_limited_per_64(make_app: MakeApp) -> None:
    client = make_app(access=AccessSettings(submits_per_minute=1)).test_client()
    same_lan = [submit_as(client, {}, {"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"}) for n in (1, 0xBEEF)]
    assert same_lan == [202, 429]
    assert submit_as(client, {}, {"REMOTE_ADDR": "2001:db8:1:3::1"}) == 202  # the next /64 is someone else


def test_a_broken_limiter_refuses_rather_than_letting_everyone_through(make_app: MakeApp, aws: AwsSettings) -> None:
    app = make_app(access=AccessSettings(submits_per_minute=1))
    services(app).submit_limiter = RateLimiter(Path("/nonexistent-dir/limits.sqlite"), 1)
    client = app.test_client()
    status, problem = submit(client)
    assert status == 503 and problem["type"] == "urn:darkroom:problem:service-unavailable"
    assert bucket_keys(aws) == [] and queue_messages(aws) == 0


def submit_as(client: FlaskClient, headers: dict[str, str], environ: dict[str, str]) -> int:
    data = {"image": (io.BytesIO(samples.jpeg()), "dark.jpg")}
    return client.post("/v1/jobs", data=data, headers=headers, environ_overrides=environ).status_code


OPERATOR_KEY, OPERATOR_HASH = new_key()


def test_with_keys_required_a_job_belongs_to_the_key_that_made_it(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app, operator_key_hashes=(OPERATOR_HASH,))
    status, job = submit(client, {"X-API-Key": KEY})
    assert status == 202
    mine = f"/v1/jobs/{job['id']}"
    owner, operator = {"X-API-Key": KEY}, {"X-API-Key": OPERATOR_KEY}
    for who in (owner, operator):
        assert client.get(mine, headers=who).get_json()["status"] == "queued"
        assert client.get(f"{mine}/result", headers=who).status_code == 409  # not ready: it is theirs to wait for
        assert client.get(f"/download?fileName={job['id']}", headers=who).get_data(as_text=True) == "Not ready\n"
    for stranger in ({"X-API-Key": OTHER_KEY}, {}):  # another customer's key, or the keyless demo page
        for path in (mine, f"{mine}/result", f"/download?fileName={job['id']}"):
            refused = client.get(path, headers=stranger)
            assert refused.status_code == 404 and refused.get_json()["type"] == "urn:darkroom:problem:job-not-found"
    assert "owner" not in client.get(mine, headers=owner).get_json()  # the key's hash stays in S3
    assert JobStore(s3_of(aws), aws.bucket).read_status(str(job["id"])).owner == KEY_HASH  # type: ignore[union-attr]


def test_a_direct_upload_signed_for_one_key_is_no_other_keys_job(make_app: MakeApp) -> None:
    client = keyed(make_app)
    data = samples.dng()
    reply = client.post("/v1/uploads", json={"filename": "night.dng", "size": len(data)}, headers={"X-API-Key": KEY})
    upload = reply.get_json()
    post_to_storage(upload, data)
    stolen = client.post("/v1/jobs", json={"upload_id": upload["id"]}, headers={"X-API-Key": OTHER_KEY})
    assert stolen.status_code == 404 and stolen.get_json()["type"] == "urn:darkroom:problem:upload-not-found"
    made = client.post("/v1/jobs", json={"upload_id": upload["id"]}, headers={"X-API-Key": KEY})
    assert made.status_code == 202
    assert client.get(f"/v1/jobs/{upload['id']}", headers={"X-API-Key": OTHER_KEY}).status_code == 404
    assert client.get(f"/v1/jobs/{upload['id']}", headers={"X-API-Key": KEY}).status_code == 200


def test_with_keys_optional_the_id_is_the_capability(make_app: MakeApp) -> None:
    client = make_app(access=AccessSettings(key_hashes=(KEY_HASH, OTHER_HASH))).test_client()
    job = submit(client, {"X-API-Key": KEY})[1]
    assert client.get(f"/v1/jobs/{job['id']}", headers={"X-API-Key": OTHER_KEY}).status_code == 200
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 200


def services(app: Flask) -> Services:
    found = app.extensions[EXTENSION_KEY]
    assert isinstance(found, Services)
    return found
