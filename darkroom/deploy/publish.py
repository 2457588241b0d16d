"""``darkroom model publish``: new weights for the workers without an AMI rebuild.

The file is checked (it loads as a shipping checkpoint of the kind named),
uploaded to ``models/{sha256 prefix}-{name}`` in the job bucket, and the SSM
parameter ``{path}/{kind}`` is pointed at it. Workers read the parameter at
start and fetch the object once per ETag (worker/model_files.py). The key is
the content's hash, so rolling back is publishing the previous file again:
the same key, already in the bucket, and the parameter points back at it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.aws import AWS_ERRORS, unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)

KINDS = ("raw", "srgb")


def model_key(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"models/{digest}-{path.name}"


def check_weights(path: Path, kind: str) -> None:
    """Refuse a file that is not a loadable checkpoint of ``kind``: a worker would not start on it."""
    from worker.models.checkpoint import load_model

    _, found = load_model(path)
    if found != kind:
        raise ValueError(f"{path} holds {found} weights, not {kind}")


def publish_model(s3: S3Client, ssm: SSMClient, bucket: str, parameters: str, kind: str, path: Path) -> str:
    """Upload ``path`` and point ``{parameters}/{kind}`` at it; returns the s3:// location published."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    check_weights(path, kind)
    key = model_key(path)
    location = f"s3://{bucket}/{key}"
    try:
        s3.upload_file(str(path), bucket, key)
        ssm.put_parameter(Name=f"{parameters.rstrip('/')}/{kind}", Value=location, Type="String", Overwrite=True)
    except AWS_ERRORS as exc:
        raise unavailable(f"publishing {path.name}", exc) from exc
    log.info("published %s weights %s", kind, location)
    return location
