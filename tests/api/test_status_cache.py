"""Finished jobs are served from a per-process cache; running ones always from S3."""

from __future__ import annotations

from flask.testing import FlaskClient

from api.status_cache import ResultUrlCache, TerminalStatusCache
from jobs.ids import new_job_id, status_key
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobError, JobResult, JobStatus, iso_now
from jobs.store import JobStore
from tests.support.aws import s3_of


def test_a_done_status_is_read_from_s3_once_then_from_the_cache(client: FlaskClient, aws: AwsSettings) -> None:
    job_id = new_job_id()
    store = JobStore(s3_of(aws), aws.bucket)
    queued = JobStatus.new(job_id, InputKind.RAW, None, iso_now())
    done = queued.processing("w-1", 1, iso_now()).done(JobResult("results/x.jpg", 4, 2, 10), 50.0, "sid", {}, iso_now())
    store.write_status(done)
    assert client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "done"
    store.bucket.delete(status_key(job_id))  # S3 no longer has it: only the cache can answer now
    body = client.get(f"/v1/jobs/{job_id}").get_json()
    assert (body["status"], body["result"]["width"]) == ("done", 4)
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 303


def test_a_running_status_is_read_from_s3_on_every_poll(client: FlaskClient, aws: AwsSettings) -> None:
    job_id = new_job_id()
    store = JobStore(s3_of(aws), aws.bucket)
    processing = JobStatus.new(job_id, InputKind.SRGB, 4.0, iso_now()).processing("w-1", 1, iso_now())
    store.write_status(processing)
    assert client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "processing"
    store.write_status(processing.failed(JobError("corrupt-input", "unreadable"), iso_now()))
    assert client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "failed"


def test_the_cache_keeps_only_final_statuses_and_evicts_the_least_recent() -> None:
    cache = TerminalStatusCache(max_entries=2)
    queued = [JobStatus.new(new_job_id(), InputKind.RAW, None, iso_now()) for _ in range(3)]
    cache.remember(queued[0])
    cache.remember(queued[1].failed(JobError("x", "y"), iso_now()))  # an operator may redrive a failed job
    assert cache.get(queued[0].job_id) is None and cache.get(queued[1].job_id) is None
    final = [status.canceled(iso_now()) for status in queued]
    cache.remember(final[0])
    cache.remember(final[1])
    assert cache.get(final[0].job_id) == final[0]  # now the most recent
    cache.remember(final[2])
    assert cache.get(final[1].job_id) is None
    assert [cache.get(s.job_id) for s in (final[0], final[2])] == [final[0], final[2]]
    assert len(cache) == 2


def test_a_result_url_is_reused_only_while_young() -> None:
    now = [100.0]
    urls = ResultUrlCache(max_age=60.0, clock=lambda: now[0])
    urls.remember("results/a.jpg", "https://signed/a?1")
    now[0] += 60.0
    assert urls.get("results/a.jpg") == "https://signed/a?1"
    now[0] += 0.5
    assert urls.get("results/a.jpg") is None  # past a tenth of a 600 s expiry: sign a fresh one
    assert urls.get("results/b.jpg") is None
