"""`darkroom ami build`'s second half against moto: read Packer's manifest, publish the AMI id to SSM."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from darkroom.deploy.ami import AmiBuild, ManifestError, publish_ami, read_manifest
from jobs.aws import ec2_client, ssm_client
from jobs.settings import AwsSettings
from pool.ec2 import Ec2Pool
from pool.settings import PoolSettings


def manifest(path: Path, *runs: tuple[str, str]) -> Path:
    """A manifest as Packer's manifest post-processor writes it: one build per run, the last run named."""
    builds = [
        {
            "name": "worker",
            "builder_type": "amazon-ebs",
            "build_time": 1_763_700_000 + i,
            "files": None,
            "artifact_id": artifact,
            "packer_run_uuid": run,
            "custom_data": {"git_commit": f"commit{i}", "worker_image": "example/darkroom-worker:1"},
        }
        for i, (run, artifact) in enumerate(runs)
    ]
    path.write_text(json.dumps({"builds": builds, "last_run_uuid": runs[-1][0]}, indent=2))
    return path


@pytest.fixture
def aws(moto_url: str) -> AwsSettings:
    return AwsSettings(endpoint_url=moto_url)


def register_image(aws: AwsSettings) -> str:
    return ec2_client(aws).register_image(
        Name=f"darkroom-worker-{uuid.uuid4().hex[:8]}",
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 75, "VolumeType": "gp3"}}],
    )["ImageId"]


def test_the_last_runs_ami_reaches_the_launcher(aws: AwsSettings, tmp_path: Path) -> None:
    old, new = register_image(aws), register_image(aws)
    path = manifest(tmp_path / "manifest.json", ("run-1", f"us-east-1:{old}"), ("run-2", f"us-east-1:{new}"))
    build = read_manifest(path, "us-east-1")
    assert build == AmiBuild(new, "us-east-1", "commit1", 1_763_700_001, "run-2")
    parameter = f"/darkroom-test/{uuid.uuid4().hex[:8]}/worker-ami"
    assert publish_ami(ssm_client(aws), parameter, build) is None  # the stack creates it, with its first AMI
    ssm_client(aws).put_parameter(Name=parameter, Value=old, Type="String", DataType="aws:ec2:image")
    assert publish_ami(ssm_client(aws), parameter, build) == 2  # a rebuild overwrites: nothing to redeploy
    stored = ssm_client(aws).get_parameter(Name=parameter)["Parameter"]
    assert stored["Value"] == new and stored["DataType"] == "aws:ec2:image"
    launcher = Ec2Pool(ec2_client(aws), ssm_client(aws), PoolSettings(ami_parameter=parameter))
    assert launcher.image_id() == new


def test_a_multi_region_build_gives_each_region_its_own_ami(tmp_path: Path) -> None:
    path = manifest(tmp_path / "m.json", ("run", "us-east-1:ami-0aaaaaaaaaaaaaaaa,eu-west-1:ami-0bbbbbbbbbbbbbbbb"))
    assert read_manifest(path, "eu-west-1").ami_id == "ami-0bbbbbbbbbbbbbbbb"
    with pytest.raises(ManifestError, match="no AMI in ap-south-1"):
        read_manifest(path, "ap-south-1")


@pytest.mark.parametrize(
    ("text", "error"),
    [(None, "cannot read"), ("{not json", "not JSON"), ('{"builds": []}', "no builds")],
)
def test_a_bad_manifest_says_what_is_wrong(tmp_path: Path, text: str | None, error: str) -> None:
    path = tmp_path / "manifest.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ManifestError, match=error):
        read_manifest(path, "us-east-1")
