"""Model updates without an AMI rebuild: publish to S3 + SSM, workers read it at start, cached by ETag (real moto)."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path

import pytest

from darkroom.deploy.publish import publish_model
from jobs.aws import s3_client, ssm_client
from jobs.settings import AwsSettings
from worker.model_files import PACKAGED, resolve_model
from worker.settings import WorkerSettings
from worker.startup import with_published_models


def test_published_weights_reach_a_starting_worker_and_roll_back(aws: AwsSettings, tmp_path: Path) -> None:
    s3, ssm = s3_client(aws), ssm_client(aws)
    path = f"/darkroom-test/{uuid.uuid4().hex}"  # this test's own parameters on the shared moto server
    settings = WorkerSettings(aws=aws)
    settings = dataclasses.replace(settings, models=dataclasses.replace(settings.models, model_parameters=path))
    assert with_published_models(settings, ssm).models.srgb_model == "sid-srgb.safetensors"  # nothing published

    first = tmp_path / "sid-srgb.safetensors"
    shutil.copy(PACKAGED / "sid-srgb.safetensors", first)
    published = publish_model(s3, ssm, aws.bucket, path, "srgb", first)
    started = with_published_models(settings, ssm).models
    assert (started.srgb_model, started.raw_model) == (published, "sid-raw.safetensors")

    cache = tmp_path / "cache"
    fetched = resolve_model(started.srgb_model, cache, s3)
    assert fetched.read_bytes() == first.read_bytes()
    assert resolve_model(started.srgb_model, cache, s3) == fetched and len(list(cache.iterdir())) == 1  # by ETag

    second = tmp_path / "retrained.safetensors"
    second.write_bytes(first.read_bytes())  # the same weights under another name: another key
    assert publish_model(s3, ssm, aws.bucket, path, "srgb", second) != published
    assert publish_model(s3, ssm, aws.bucket, path, "srgb", first) == published  # rolling back
    assert with_published_models(settings, ssm).models.srgb_model == published


def test_weights_of_the_wrong_kind_are_not_published(aws: AwsSettings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds srgb weights, not raw"):
        publish_model(s3_client(aws), ssm_client(aws), aws.bucket, "/x", "raw", PACKAGED / "sid-srgb.safetensors")
