"""Job control: cancel a queued job (its input deleted now), list a key's own jobs, submit a batch."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.access import AccessSettings, new_key
from jobs.ids import new_job_id, result_key
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobResult, JobStatus, iso_now
from jobs.store import JobStore
from tests.api import samples
from tests.api.conftest import MakeApp
from tests.api.test_jobs import assert_problem
from tests.support.aws import bucket_keys, queue_messages, s3_of

KEY, KEY_HASH = new_key()
OTHER_KEY, OTHER_HASH = new_key()
MINE, THEIRS = {"X-API-Key": KEY}, {"X-API-Key": OTHER_KEY}


def keyed(make_app: MakeApp, **overrides: object) -> FlaskClient:
    access = AccessSettings(key_hashes=(KEY_HASH, OTHER_HASH), require_key=True)
    return make_app(access=access, **overrides).test_client()


def submit(client: FlaskClient, headers: dict[str, str]) -> str:
    reply = client.post("/v1/jobs", data={"image": (io.BytesIO(samples.jpeg()), "dark.jpg")}, headers=headers)
    assert reply.status_code == 202, reply.get_data(as_text=True)
    return str(reply.get_json()["id"])


def test_canceling_a_queued_job_deletes_its_input_now(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app)
    job_id = submit(client, MINE)
    assert any(key.startswith(f"uploads/{job_id}.") for key in bucket_keys(aws))
    for stranger in (THEIRS, {}):  # guard_job_owner: another key's job, or none, is no job
        assert_problem(client.delete(f"/v1/jobs/{job_id}", headers=stranger), 404, "job-not-found")

    reply = client.delete(f"/v1/jobs/{job_id}", headers=MINE)
    assert reply.status_code == 200 and reply.get_json()["status"] == "canceled"
    assert not [key for key in bucket_keys(aws) if job_id in key and not key.startswith(("status/", "owners/"))]
    assert client.get(f"/v1/jobs/{job_id}", headers=MINE).get_json()["status"] == "canceled"
    assert client.delete(f"/v1/jobs/{job_id}", headers=MINE).status_code == 200  # again: the same answer
    assert queue_messages(aws) == 1  # a worker that receives it finds a finished job and acknowledges it


def test_a_running_or_finished_job_is_not_cancelable(make_app: MakeApp, aws: AwsSettings) -> None:
    client = make_app().test_client()
    store = JobStore(s3_of(aws), aws.bucket)
    running, finished = new_job_id(), new_job_id()
    queued = JobStatus.new(running, InputKind.SRGB, None, iso_now())
    store.write_status(queued.processing("w-1", 1, iso_now()))
    key = store.put_result(finished, samples.jpeg())
    done = JobStatus.new(finished, InputKind.SRGB, None, iso_now()).processing("w-1", 1, iso_now())
    store.write_status(done.done(JobResult(key, 96, 64, 10), 10.0, "baseline", {}, iso_now()))
    for job_id, state in ((running, "processing"), (finished, "done")):
        refused = assert_problem(client.delete(f"/v1/jobs/{job_id}"), 409, "job-not-cancelable")
        assert state in refused["detail"]
    assert result_key(finished) in bucket_keys(aws)


def test_a_key_lists_its_own_recent_jobs_newest_first(make_app: MakeApp) -> None:
    client = keyed(make_app)
    mine = [submit(client, MINE) for _ in range(3)]
    theirs = submit(client, THEIRS)
    listed = client.get("/v1/jobs", headers=MINE).get_json()["jobs"]
    assert [job["id"] for job in listed] == mine[::-1]
    assert {job["status"] for job in listed} == {"queued"}
    assert [job["id"] for job in client.get("/v1/jobs?limit=2", headers=MINE).get_json()["jobs"]] == mine[:0:-1]
    assert [job["id"] for job in client.get("/v1/jobs", headers=THEIRS).get_json()["jobs"]] == [theirs]
    assert_problem(client.get("/v1/jobs"), 401, "api-key-required")
    assert_problem(client.get("/v1/jobs?limit=0", headers=MINE), 400, "invalid-limit")


def batch(client: FlaskClient, files: list[tuple[bytes, str]], headers: dict[str, str] | None = None) -> TestResponse:
    fields = {"image": [(io.BytesIO(data), name) for data, name in files], "ratio": "50"}
    return client.post("/v1/jobs/batch", data=fields, headers=headers or {}, content_type="multipart/form-data")


def test_a_batch_makes_one_job_per_file_in_order(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app)
    reply = batch(client, [(samples.jpeg(), "a.jpg"), (samples.png(), "b.png"), (samples.dng(), "c.dng")], MINE)
    assert reply.status_code == 202, reply.get_data(as_text=True)
    jobs = reply.get_json()["jobs"]
    assert len({job["id"] for job in jobs}) == 3 and queue_messages(aws) == 3
    kinds = [client.get(f"/v1/jobs/{job['id']}", headers=MINE).get_json() for job in jobs]
    assert [(job["kind"], job["ratio"]) for job in kinds] == [("srgb", 50.0), ("srgb", 50.0), ("raw", 50.0)]
    assert len(client.get("/v1/jobs", headers=MINE).get_json()["jobs"]) == 3


def test_one_bad_file_refuses_the_whole_batch_and_names_it(make_app: MakeApp, aws: AwsSettings) -> None:
    client = make_app().test_client()
    reply = batch(client, [(samples.jpeg(), "a.jpg"), (b"not an image", "b.jpg")])
    problem = assert_problem(reply, 415, "unsupported-media-type")
    assert "file 2 (b.jpg)" in problem["detail"]
    assert bucket_keys(aws) == [] and queue_messages(aws) == 0


def test_a_batch_is_limited_and_each_file_counts_as_a_submit(make_app: MakeApp, aws: AwsSettings) -> None:
    client = keyed(make_app, batch_max_files=2)
    assert_problem(batch(client, [(samples.jpeg(), "a.jpg")] * 3, MINE), 400, "too-many-files")
    limited = make_app(access=AccessSettings(key_hashes=(KEY_HASH,), submits_per_minute=2)).test_client()
    three = [(samples.jpeg(), f"{n}.jpg") for n in range(3)]
    assert_problem(batch(limited, three, MINE), 429, "too-many-requests")  # the third file is one too many
    assert queue_messages(aws) == 0
