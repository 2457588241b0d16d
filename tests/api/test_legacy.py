"""The original app's routes and CORS, with the request shapes its React frontend sends.

That frontend runs on its own origin and uses axios with ``withCredentials``
and a custom request header named ``credentials``: the browser adds
``Origin`` and the cookies, preflights each call for that header, and
accepts the answer only with ``Access-Control-Allow-Origin: <its origin>``
and ``...-Allow-Credentials: true`` (tests/web/test_page.py sends it from
chromium).
"""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient

from api.access import AccessSettings, new_key
from api.app import create_app
from api.settings import ApiSettings
from jobs.settings import AwsSettings, SettingsError
from jobs.status import JobError, JobResult, iso_now
from jobs.store import JobStore
from tests.api import samples
from tests.api.conftest import pool_app
from tests.support.aws import PoolWorld, queue_messages, s3_of, sqs_of

FRONTEND = "http://localhost:3000"  # create-react-app's dev server, where the original frontend runs
BROWSER = {"Origin": FRONTEND, "Cookie": "session=abc"}  # what withCredentials sends


@pytest.fixture(scope="module")
def client(module_aws: AwsSettings) -> FlaskClient:
    settings = ApiSettings(aws=module_aws, cors_origins=(FRONTEND, "https://app.example.com"))
    return create_app(settings, s3=s3_of(module_aws), sqs=sqs_of(module_aws)).test_client()


def legacy_upload(client: FlaskClient, data: bytes, filename: str = "night.jpg", ratio: str = "100") -> str:
    """``FormData`` with ``image`` and ``ratio``, as the original frontend builds it."""
    reply = client.post("/upload", data={"image": (io.BytesIO(data), filename), "ratio": ratio}, headers=BROWSER)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.mimetype == "text/plain"
    assert reply.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    return reply.get_data(as_text=True).strip()


def test_upload_then_download_when_done(client: FlaskClient, module_aws: AwsSettings) -> None:
    queued = queue_messages(module_aws)
    name = legacy_upload(client, samples.jpeg())
    assert queue_messages(module_aws) == queued + 1  # the same queue as /v1
    assert client.get(f"/v1/jobs/{name}").get_json()["ratio"] == 100

    early = client.get(f"/download?fileName={name}", headers=BROWSER)
    assert (early.status_code, early.get_data(as_text=True).strip()) == (404, "Not ready")
    assert early.headers["Access-Control-Allow-Origin"] == FRONTEND

    store = JobStore(s3_of(module_aws), module_aws.bucket)  # what a worker writes when it is done
    status = store.read_status(name)
    assert status is not None
    jpeg = samples.jpeg(32, 24)
    key = store.put_result(name, jpeg)
    store.write_status(status.done(JobResult(key, 32, 24, len(jpeg)), 100.0, "baseline", {}, iso_now()))

    done = client.get(f"/download?fileName={name}", headers=BROWSER)
    assert done.status_code == 200 and done.mimetype == "image/jpeg" and done.data == jpeg


def test_a_failed_job_and_unknown_names(client: FlaskClient, module_aws: AwsSettings) -> None:
    name = legacy_upload(client, samples.png(), "night.png", ratio="auto")
    store = JobStore(s3_of(module_aws), module_aws.bucket)
    status = store.read_status(name)
    assert status is not None
    store.write_status(status.failed(JobError("corrupt-input", "the photo could not be decoded"), iso_now()))
    failed = client.get(f"/download?fileName={name}")
    assert failed.status_code == 422 and "could not be decoded" in failed.get_data(as_text=True)
    for unknown in ("nothing", "6f1c1d1e-0000-4000-8000-000000000000", ""):
        assert client.get(f"/download?fileName={unknown}").status_code == 404


def test_legacy_upload_validates_like_v1(client: FlaskClient) -> None:
    reply = client.post(
        "/upload", data={"image": (io.BytesIO(b"not a photo\n" * 10), "a.jpg"), "ratio": "100"}, headers=BROWSER
    )
    assert reply.status_code == 415 and reply.get_json()["type"].endswith(":unsupported-media-type")
    assert reply.headers["Access-Control-Allow-Origin"] == FRONTEND  # the frontend can read the error
    bad_ratio = client.post("/upload", data={"image": (io.BytesIO(samples.jpeg()), "a.jpg"), "ratio": "9000"})
    assert bad_ratio.status_code == 400


def test_checkinstance_without_a_pool_says_ready(client: FlaskClient) -> None:
    reply = client.get("/checkinstance", headers=BROWSER)
    assert reply.status_code == 200 and reply.get_data(as_text=True).strip() == "ready"


@pytest.mark.slow
def test_checkinstance_warms_the_pool(pool_world: PoolWorld) -> None:
    client = pool_app(pool_world).test_client()
    reply = client.get("/checkinstance", headers=BROWSER)
    assert reply.status_code == 200 and reply.get_data(as_text=True).strip() == "starting"
    assert len(pool_world.instances()) == 1  # a worker is booting, as /v1/warm would have done


def test_preflight_from_an_allowed_origin(client: FlaskClient) -> None:
    reply = client.options(
        "/v1/jobs",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-evil",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    assert reply.headers["Access-Control-Allow-Headers"] == "content-type"
    assert "Origin" in reply.headers["Vary"]


def test_a_browser_may_send_an_api_key_in_either_header(client: FlaskClient) -> None:
    for asked in ("X-API-Key", "Authorization, X-API-Key, content-type"):
        reply = client.options(
            "/v1/jobs",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
            },
        )
        assert reply.headers["Access-Control-Allow-Headers"] == asked  # X-API-Key is a header the API reads


@pytest.mark.parametrize(("method", "path"), [("POST", "/upload"), ("GET", "/download?fileName=x")])
def test_the_original_frontends_credentials_header_passes_the_preflight(
    client: FlaskClient, method: str, path: str
) -> None:
    reply = client.options(
        path,
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "credentials",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert reply.headers["Access-Control-Allow-Headers"] == "credentials"


def test_other_origins_get_no_cors_headers(client: FlaskClient, module_aws: AwsSettings) -> None:
    for origin in ("https://evil.example", "null", "http://localhost:3001"):
        reply = client.get("/checkinstance", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in reply.headers
    default = create_app(ApiSettings(aws=module_aws), s3=s3_of(module_aws), sqs=sqs_of(module_aws)).test_client()
    reply = default.get("/v1/pool", headers={"Origin": FRONTEND})  # by default only the page itself
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.parametrize("origins", ["*", "https://ok.example,*", "ftp://x", "https://a.example/path"])
def test_a_wildcard_or_a_malformed_origin_is_refused_at_startup(origins: str) -> None:
    with pytest.raises(SettingsError):
        ApiSettings.from_env({"DARKROOM_CORS_ORIGINS": origins})


def test_origins_are_read_from_the_environment() -> None:
    settings = ApiSettings.from_env({"DARKROOM_CORS_ORIGINS": " http://localhost:3000/ , https://a.example "})
    assert settings.cors_origins == ("http://localhost:3000", "https://a.example")


def test_the_page_is_served_at_the_root(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'src="/static/app.js"' in html and "http" not in html.split("<body>")[0].replace("http-equiv", "")
    script = client.get("/static/app.js")
    assert script.status_code == 200 and b"/v1/warm" in script.data


def test_a_closed_api_needs_a_key_on_the_web_routes_too(module_aws: AwsSettings) -> None:
    key, digest = new_key()
    access = AccessSettings(key_hashes=(digest,), require_key=True, public_submits_per_hour=0)
    settings = ApiSettings(aws=module_aws, access=access)
    client = create_app(settings, s3=s3_of(module_aws), sqs=sqs_of(module_aws)).test_client()
    photo = {"image": (io.BytesIO(samples.jpeg()), "a.jpg"), "ratio": "100"}
    assert client.post("/upload", data=photo).status_code == 401
    assert client.post("/v1/uploads", json={"filename": "a.dng", "size": 10}).status_code == 401
    assert client.get("/download?fileName=x").status_code == 401
    signed = client.post("/v1/uploads", json={"filename": "a.dng", "size": 10}, headers={"X-API-Key": key})
    assert signed.status_code == 201
