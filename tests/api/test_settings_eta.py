"""ApiSettings.from_env and the ETA estimate: pure code, no servers."""

from __future__ import annotations

import pytest

from api.eta import PoolEta, eta_seconds, poll_after_seconds
from api.settings import API_AWS_RETRIES, ApiSettings
from jobs.queue import QueueDepth
from jobs.settings import AwsSettings, SettingsError
from jobs.status import JobState


def test_settings_from_env_reads_darkroom_variables() -> None:
    settings = ApiSettings.from_env(
        {
            "DARKROOM_BUCKET": "photos",
            "DARKROOM_AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "DARKROOM_MAX_UPLOAD_BYTES": "1000",
            "DARKROOM_MAX_PIXELS": "2000",
            "DARKROOM_RESULT_URL_EXPIRY": "30",
            "DARKROOM_SERVICE_SECONDS_ESTIMATE": "2.5",
        }
    )
    assert (settings.aws.bucket, settings.aws.endpoint_url) == ("photos", "http://127.0.0.1:4566")
    assert (settings.max_upload_bytes, settings.max_pixels, settings.result_url_expiry) == (1000, 2000, 30)
    assert settings.service_seconds_estimate == 2.5


def test_settings_defaults() -> None:
    settings = ApiSettings.from_env({})
    assert settings.max_upload_bytes == 64 * 1024 * 1024
    assert (settings.max_pixels, settings.result_url_expiry, settings.service_seconds_estimate) == (150e6, 600, 10)


@pytest.mark.parametrize("env", [{"DARKROOM_MAX_PIXELS": "many"}, {"DARKROOM_MAX_UPLOAD_BYTES": "0"}])
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        ApiSettings.from_env(env)


def test_eta_grows_with_the_queue_and_ends_at_zero() -> None:
    assert eta_seconds(JobState.QUEUED, 10, QueueDepth(visible=1, in_flight=0), 0) == 10  # only this job
    assert eta_seconds(JobState.QUEUED, 10, QueueDepth(visible=5, in_flight=2), 0) == 50
    assert eta_seconds(JobState.QUEUED, 10, None, 0) == 10
    assert eta_seconds(JobState.PROCESSING, 10, None, 4.2) == 6
    assert eta_seconds(JobState.PROCESSING, 10, None, 60) == 1  # overdue, but not done
    assert eta_seconds(JobState.DONE, 10, None, 0) == 0
    assert eta_seconds(JobState.FAILED, 10, QueueDepth(9, 9), 0) == 0


def test_poll_interval_stays_between_one_and_fifteen_seconds() -> None:
    assert [poll_after_seconds(eta) for eta in (0, 1, 4, 9, 100)] == [1, 1, 2, 4, 15]


def test_the_api_fails_fast_with_fewer_aws_retries_than_the_worker() -> None:
    assert ApiSettings.from_env({}).aws.retries == API_AWS_RETRIES < AwsSettings.from_env({}).retries
    assert ApiSettings.from_env({"DARKROOM_AWS_RETRIES": "0"}).aws.retries == 0


def test_eta_adds_the_rest_of_a_boot_and_shares_the_queue_among_workers() -> None:
    depth = QueueDepth(visible=7, in_flight=0)  # six ahead
    booting = PoolEta(working=0, booting=1, booting_for=30, boot_seconds=90)
    assert eta_seconds(JobState.QUEUED, 10, depth, 0, booting) == 60 + 70
    assert (
        eta_seconds(JobState.QUEUED, 10, depth, 0, PoolEta(3, 0, 0, 90)) == 30
    )  # 6 ahead over 3 workers, then its own
    overdue = PoolEta(working=0, booting=1, booting_for=500, boot_seconds=90)
    assert eta_seconds(JobState.QUEUED, 10, QueueDepth(1, 0), 0, overdue) == 5 + 10
    nothing = PoolEta(working=0, booting=0, booting_for=0, boot_seconds=90)
    assert eta_seconds(JobState.QUEUED, 10, QueueDepth(1, 0), 0, nothing) == 100
    assert eta_seconds(JobState.DONE, 10, depth, 0, booting) == 0


def test_retry_after_follows_the_eta() -> None:
    assert [poll_after_seconds(eta) for eta in (0, 3, 20, 130, 1000)] == [1, 1, 10, 15, 15]
