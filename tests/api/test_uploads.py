"""Direct uploads: a presigned POST to the real moto server, then a job by upload id.

moto does not enforce a POST policy's conditions, so these tests upload what
S3 itself would refuse (too large, not an image) and check that the API's own
check after the upload refuses the job and deletes the object.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.problems import Problem
from api.ranged import RangedObject
from api.settings import ApiSettings
from api.uploads import take_checked
from api.validate import RAW_HEADER_BYTES, Source, inspect_upload
from jobs.aws import s3_client
from jobs.bucket import Bucket
from jobs.settings import AwsSettings
from jobs.store import JobStore
from jobs.webhook import WebhookSettings
from tests.api import samples
from tests.api.conftest import post_to_storage, sign
from tests.api.malformed import MALFORMED, Malformed
from tests.support.aws import bucket_keys, queue_messages, s3_of, sqs_of


@pytest.fixture(scope="module")
def aws(module_aws: AwsSettings) -> AwsSettings:
    return module_aws


@pytest.fixture(scope="module")
def client(module_aws: AwsSettings) -> FlaskClient:
    settings = ApiSettings(aws=module_aws, max_direct_upload_bytes=64 * 1024 * 1024)
    return create_app(settings, s3=s3_of(module_aws), sqs=sqs_of(module_aws)).test_client()


GOOD = [
    Malformed(name, data, filename)  # not malformed: the files every check must accept
    for name, data, filename in [
        ("good jpeg", samples.jpeg(), "a.jpg"),
        ("good jpeg with a thumbnail", samples.jpeg_with_thumbnail(), "b.jpg"),
        ("good png", samples.png(), "c.png"),
        ("good tiff", samples.tiff(), "d.tif"),
        ("good dng", samples.dng(), "e.dng"),
    ]
]


def keys_of(aws: AwsSettings, upload_id: str) -> list[str]:
    return [key for key in bucket_keys(aws) if upload_id in key]


def submit(client: FlaskClient, upload_id: str, **extra: object) -> Any:
    return client.post("/v1/jobs", json={"upload_id": upload_id, **extra})


def test_a_direct_dng_upload_becomes_a_queued_job(client: FlaskClient, aws: AwsSettings) -> None:
    data, queued = samples.dng(), queue_messages(aws)
    upload = sign(client, "night.DNG", len(data))
    assert upload["expires_in"] > 0 and upload["fields"]["key"] == f"incoming/{upload['id']}.dng"
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", len(data), len(data)] in policy["conditions"]
    post_to_storage(upload, data)

    reply = submit(client, upload["id"], ratio="50")
    assert reply.status_code == 202, reply.get_json()
    job = reply.get_json()
    assert job["id"] == upload["id"] and job["status"] == "queued"
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["ratio"] == 50
    assert queue_messages(aws) == queued + 1
    # the checked copy is the job's input; the form's object and the ticket are spent
    assert keys_of(aws, upload["id"]) == [f"status/{job['id']}.json", f"uploads/{job['id']}.dng"]

    again = submit(client, upload["id"])  # an upload id makes one job only
    assert again.status_code == 409 and again.get_json()["type"].endswith(":upload-used")
    assert queue_messages(aws) == queued + 1


def test_an_oversized_object_is_refused_and_deleted(client: FlaskClient, aws: AwsSettings) -> None:
    data, queued = samples.jpeg(), queue_messages(aws)
    upload = sign(client, "small.jpg", 1000)  # signed for 1000 bytes; moto lets more through
    post_to_storage(upload, data)
    assert upload["fields"]["key"] in bucket_keys(aws)
    reply = submit(client, upload["id"])
    assert reply.status_code == 422
    problem = reply.get_json()
    assert problem["type"].endswith(":upload-size-mismatch") and f"{len(data):,} bytes" in problem["detail"]
    assert keys_of(aws, upload["id"]) == []  # object and ticket gone, no status
    assert queue_messages(aws) == queued
    assert submit(client, upload["id"]).status_code == 404  # and the id is spent


BAD_OBJECTS = [
    (b"Dear diary, it was dark.\n" * 40, 415, "unsupported-media-type"),  # text named .dng
    (samples.dng()[:3000], 422, "corrupt-image"),  # a truncated DNG
]


def test_a_stored_object_that_is_not_a_good_image_is_refused_and_deleted(client: FlaskClient, aws: AwsSettings) -> None:
    queued = queue_messages(aws)
    for data, status, slug in BAD_OBJECTS:
        upload = sign(client, "night.dng", len(data))
        post_to_storage(upload, data)
        reply = submit(client, upload["id"])
        assert reply.status_code == status and reply.get_json()["type"].endswith(f":{slug}"), slug
        assert keys_of(aws, upload["id"]) == []
    assert queue_messages(aws) == queued


def test_submitting_before_the_upload_arrived_keeps_the_ticket(client: FlaskClient) -> None:
    data = samples.png()
    upload = sign(client, "a.png", len(data))
    early = submit(client, upload["id"])
    assert early.status_code == 409 and early.get_json()["type"].endswith(":upload-missing")
    post_to_storage(upload, data)
    assert submit(client, upload["id"]).status_code == 202


BAD_REQUESTS: list[tuple[dict[str, Any], int, str]] = [
    ({"filename": "notes.txt", "size": 10}, 415, "unsupported-media-type"),
    ({"filename": "a.dng", "size": 0}, 400, "invalid-upload-request"),
    ({"filename": "a.dng", "size": "12"}, 400, "invalid-upload-request"),
    ({"size": 12}, 400, "invalid-upload-request"),
    ({"filename": "a.dng", "size": 64 * 1024 * 1024 + 1}, 413, "content-too-large"),
]


def test_upload_requests_and_unknown_ids_are_refused(client: FlaskClient, aws: AwsSettings) -> None:
    tickets = s3_of(aws).list_objects_v2(Bucket=aws.bucket, Prefix="tickets/")["KeyCount"]
    for body, status, slug in BAD_REQUESTS:
        reply = client.post("/v1/uploads", json=body)
        assert reply.status_code == status and reply.get_json()["type"].endswith(f":{slug}"), body
    assert s3_of(aws).list_objects_v2(Bucket=aws.bucket, Prefix="tickets/")["KeyCount"] == tickets
    for upload_id in ("not-an-id", "6f1c1d1e-0000-4000-8000-000000000000", None, 12):
        reply = client.post("/v1/jobs", json={"upload_id": upload_id})
        assert reply.status_code == 404 and reply.get_json()["type"].endswith(":upload-not-found")
    reply = client.post("/v1/jobs", data="[1]", content_type="application/json")
    assert reply.status_code == 400 and reply.get_json()["type"].endswith(":invalid-json")


REFUSED_CALLBACKS = [
    "http://169.254.169.254/latest/meta-data/",  # instance metadata (and plain http)
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://10.0.0.1/hook",
    "https://192.168.1.1/hook",
    "https://localhost/hook",  # a name that resolves to loopback
]


def test_callback_urls_are_checked_before_anything_is_stored(module_aws: AwsSettings) -> None:
    settings = ApiSettings(aws=module_aws, webhook=WebhookSettings(secret="s"))
    client = create_app(settings, s3=s3_of(module_aws), sqs=sqs_of(module_aws)).test_client()
    queued = queue_messages(module_aws)
    for url in REFUSED_CALLBACKS:
        form = {"image": (io.BytesIO(samples.jpeg()), "a.jpg"), "callback_url": url}
        reply = client.post("/v1/jobs", data=form)
        assert reply.status_code == 400 and reply.get_json()["type"].endswith(":invalid-callback-url"), url
        by_id = client.post("/v1/jobs", json={"upload_id": "6f1c1d1e-0000-4000-8000-000000000000", "callback_url": url})
        assert by_id.status_code == 400, url
    assert queue_messages(module_aws) == queued


def test_a_callback_url_travels_in_the_status(module_aws: AwsSettings, client: FlaskClient) -> None:
    form = {"image": (io.BytesIO(samples.jpeg()), "a.jpg"), "callback_url": "https://hooks.example.com/x"}
    refused = client.post("/v1/jobs", data=form)  # this app has no webhook secret: callbacks are off
    assert refused.status_code == 400 and "not enabled" in refused.get_json()["detail"]
    local = WebhookSettings(secret="s", allow_http=True, allow_private=True)
    app = create_app(ApiSettings(aws=module_aws, webhook=local), s3=s3_of(module_aws), sqs=sqs_of(module_aws))
    form = {"image": (io.BytesIO(samples.jpeg()), "a.jpg"), "callback_url": "http://127.0.0.1:9/hook"}
    reply = app.test_client().post("/v1/jobs", data=form)
    assert reply.status_code == 202
    status = JobStore(s3_of(module_aws), module_aws.bucket).read_status(reply.get_json()["id"])
    assert status is not None and status.callback_url == "http://127.0.0.1:9/hook"


def test_an_upload_replaced_after_its_check_is_refused(client: FlaskClient, aws: AwsSettings) -> None:
    """The form stays valid for a while: a second POST after the check must not become the job's input."""
    data = samples.jpeg()
    upload = sign(client, "a.jpg", len(data))
    post_to_storage(upload, data)
    store = JobStore(s3_of(aws), aws.bucket)
    checked = store.bucket.read(upload["fields"]["key"])
    post_to_storage(upload, samples.jpeg(64, 48))  # replaced between the check and the copy
    with pytest.raises(Problem) as refused:
        take_checked(store, upload["id"], upload["fields"]["key"], "jpg", checked.etag)
    assert refused.value.status == 409 and refused.value.slug == "upload-changed"
    assert keys_of(aws, upload["id"]) == []


def test_a_large_direct_upload_is_checked_in_ranges_not_read_whole(aws: AwsSettings) -> None:
    s3 = s3_client(aws)  # the app's own client, so only its reads are counted
    read: list[int] = []
    s3.meta.events.register("after-call.s3.GetObject", lambda parsed, **_: read.append(parsed["ContentLength"]))
    settings = ApiSettings(aws=aws, max_direct_upload_bytes=64 * 1024 * 1024)
    client = create_app(settings, s3=s3, sqs=sqs_of(aws)).test_client()
    data = samples.dng(3000, 2000)  # 12 MB of pixels after a few KiB of header
    upload = sign(client, "night.dng", len(data))
    post_to_storage(upload, data)
    accepted = submit(client, upload["id"])
    assert accepted.status_code == 202, accepted.get_json()
    assert len(data) > 10_000_000 and sum(read) <= RAW_HEADER_BYTES + 1024 * 1024  # headers, never the pixels


@pytest.mark.parametrize("direct", [False, True], ids=["multipart", "direct"])
def test_a_jpeg_carrying_megabytes_after_its_end_is_refused(
    client: FlaskClient, aws: AwsSettings, direct: bool
) -> None:
    riding = samples.jpeg() + b"PK\x03\x04" + bytes(3 * 1024 * 1024)  # an archive hidden behind the photo
    if direct:
        upload = sign(client, "night.jpg", len(riding))
        post_to_storage(upload, riding)
        response = submit(client, upload["id"])
        assert keys_of(aws, upload["id"]) == []  # refused and deleted
    else:
        response = client.post("/v1/jobs", data={"image": (io.BytesIO(riding), "night.jpg")})
    problem = response.get_json()
    assert response.status_code == 422 and problem["type"] == "urn:darkroom:problem:corrupt-image"
    assert "3,145,732 bytes after its image ends" in problem["detail"]
    a_little = samples.jpeg() + bytes(1000)  # some tools append a few bytes: still a photo
    assert client.post("/v1/jobs", data={"image": (io.BytesIO(a_little), "ok.jpg")}).status_code == 202


@pytest.mark.parametrize("case", MALFORMED + GOOD, ids=[case.name for case in MALFORMED + GOOD])
def test_ranged_checks_judge_every_file_as_the_in_memory_ones_do(aws: AwsSettings, case: Malformed) -> None:
    bucket = Bucket(s3_of(aws), aws.bucket)
    key = f"incoming/corpus-{abs(hash(case.name))}"
    etag = bucket.write(key, case.data, "application/octet-stream")
    in_memory, ranged = (
        judged(case.data, case.filename),
        judged(RangedObject(bucket, key, len(case.data), etag), case.filename),
    )
    assert ranged == in_memory
    bucket.delete(key)


def judged(data: Source, filename: str) -> str:
    try:
        info = inspect_upload(data, filename, 50_000_000)
    except Problem as problem:
        return problem.type
    return f"{info.kind} {info.format} {info.width}x{info.height}"
