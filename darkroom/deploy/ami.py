"""Rebuilding the worker AMI: run Packer, read its manifest, point the launcher's SSM parameter at the new image.

Nothing is redeployed: the API reads the parameter at each launch
(pool/ec2.py), so the next worker it launches boots the new AMI.
Packer's manifest post-processor (ami/packer.pkr.hcl) records every build it
ran; the one of its last run is the one to publish.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from jobs.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)

AMI_DIR = Path(__file__).resolve().parents[2] / "ami"
TEMPLATE = AMI_DIR / "packer.pkr.hcl"
MANIFEST = AMI_DIR / "manifest.json"


class ManifestError(ValueError):
    """The manifest is missing, malformed, or holds no AMI for the region asked."""


@dataclass(frozen=True)
class AmiBuild:
    """One image Packer registered, as its manifest tells."""

    ami_id: str
    region: str
    git_commit: str  # from the build's custom_data; "" when the template did not record it
    build_time: int  # epoch seconds
    run_uuid: str


def read_manifest(path: Path, region: str) -> AmiBuild:
    """The AMI Packer's last run registered in ``region``.

    A manifest accumulates builds across runs; ``last_run_uuid`` names the
    latest. An artifact id is ``region:ami-id``, comma-separated when a build
    copies the image to several regions.
    """
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ManifestError(f"cannot read Packer's manifest {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ManifestError(f"{path} is not JSON: {exc}") from exc
    builds: list[dict[str, Any]] = (data.get("builds") or []) if isinstance(data, dict) else []
    if not builds:
        raise ManifestError(f"{path} records no builds")
    last_run = data.get("last_run_uuid")
    build = next((b for b in reversed(builds) if b.get("packer_run_uuid") == last_run), builds[-1])
    amis = dict(part.split(":", 1) for part in str(build.get("artifact_id", "")).split(",") if ":" in part)
    ami_id = amis.get(region)
    if not ami_id or not ami_id.startswith("ami-"):
        raise ManifestError(f"{path}: the last build registered no AMI in {region} (artifacts: {amis or 'none'})")
    return AmiBuild(
        ami_id=ami_id,
        region=region,
        git_commit=str((build.get("custom_data") or {}).get("git_commit", "")),
        build_time=int(build.get("build_time", 0)),
        run_uuid=str(build.get("packer_run_uuid", "")),
    )


def publish_ami(ssm: SSMClient, parameter: str, build: AmiBuild) -> int | None:
    """Write the AMI id to the parameter the launcher reads; returns the parameter's new version.

    The CloudFormation stack owns the parameter (it is created with the
    stack's first AMI): before the stack exists there is nothing to update,
    and None says so. ``aws:ec2:image`` makes SSM check that the AMI exists
    before accepting it, so a typo never reaches a launch.
    """
    try:
        ssm.get_parameter(Name=parameter)
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        log.info("no parameter %s yet: deploy the stack with --ami-id %s", parameter, build.ami_id)
        return None
    version = ssm.put_parameter(
        Name=parameter,
        Value=build.ami_id,
        Type="String",
        DataType="aws:ec2:image",
        Overwrite=True,
        Description=f"darkroom worker AMI, commit {build.git_commit or 'unknown'}",
    )["Version"]
    log.info("%s = %s (version %d)", parameter, build.ami_id, version)
    return version


def git_commit(repo: Path = AMI_DIR.parent) -> str:
    """The checkout's short commit, with -dirty when it has uncommitted changes (the AMI's tag says so)."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=repo, capture_output=True, text=True, check=True
    )
    return described.stdout.strip()


def run_packer(variables: dict[str, str], packer: str = "packer", template: Path = TEMPLATE) -> None:
    """``packer init`` then ``packer build`` with its output on this terminal; raises CalledProcessError on failure."""
    subprocess.run([packer, "init", str(template.parent)], check=True)
    args = [arg for name, value in variables.items() for arg in ("-var", f"{name}={value}")]
    subprocess.run([packer, "build", *args, str(template)], check=True)


def enable_fast_snapshot_restore(ec2: EC2Client, ami_id: str, zones: list[str]) -> list[str]:
    """Turn on Fast Snapshot Restore for the AMI's snapshots in ``zones``; returns the snapshot ids.

    A volume made from such a snapshot is fully initialised at once, with no
    lazy first reads, but AWS bills every snapshot and zone by the hour while
    it is on: worth it only for a pool that launches often.
    """
    images = ec2.describe_images(ImageIds=[ami_id])["Images"]
    snapshots = [
        mapping["Ebs"]["SnapshotId"]
        for image in images
        for mapping in image.get("BlockDeviceMappings", [])
        if "SnapshotId" in mapping.get("Ebs", {})
    ]
    if snapshots:
        ec2.enable_fast_snapshot_restores(AvailabilityZones=zones, SourceSnapshotIds=snapshots)
        log.info("fast snapshot restore on for %s in %s", ", ".join(snapshots), ", ".join(zones))
    return snapshots
