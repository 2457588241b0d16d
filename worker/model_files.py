"""Where a worker's weights come from: a local path, or ``s3://`` with a local cache.

Which model a worker runs is a setting, not a rebuild. On the AMI the weights
sit on local disk; a new model can be rolled out by pointing the setting at
an S3 object, fetched once per instance into the cache directory.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from jobs.aws import AWS_ERRORS, error_code, unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)

PACKAGED = Path(__file__).resolve().parent / "models"  # weights shipped in the repository


def resolve_model(location: str, cache_dir: Path, s3: S3Client | None) -> Path:
    """A local file holding the weights named by ``location``.

    A bare file name refers to the weights shipped with darkroom.
    """
    if location.startswith("s3://"):
        if s3 is None:
            raise ValueError(f"{location}: an S3 client is needed to fetch it")
        return _cached_s3_object(location, cache_dir, s3)
    path = Path(location).expanduser()
    if not path.is_absolute() and not path.exists():
        path = PACKAGED / location
    if not path.is_file():
        raise FileNotFoundError(f"model weights not found: {location}")
    return path


def published_model(ssm: SSMClient, path: str, kind: str, baked: str) -> str:
    """Where the published weights for ``kind`` are (``{path}/{kind}``, set by ``darkroom model publish``).

    No such parameter, or SSM unreachable: ``baked``, the weights on the AMI's disk (a worker still starts).
    """
    name = f"{path.rstrip('/')}/{kind}"
    try:
        location = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except AWS_ERRORS as exc:
        if error_code(exc) != "ParameterNotFound":
            log.error("cannot read %s (%s): running the baked %s weights, %s", name, exc, kind, baked)
        return baked
    log.info("%s weights: %s (published in %s)", kind, location, name)
    return location


def _cached_s3_object(uri: str, cache_dir: Path, s3: S3Client) -> Path:
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    try:
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except AWS_ERRORS as exc:
        raise unavailable(f"finding model {uri}", exc) from exc
    # the ETag in the name: a changed object is fetched again, an unchanged one never
    name = f"{hashlib.sha256(uri.encode()).hexdigest()[:16]}-{etag}{Path(key).suffix}"
    target = cache_dir / name
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    log.info("fetching model %s", uri)
    try:
        s3.download_file(bucket, key, str(partial))
    except AWS_ERRORS as exc:
        raise unavailable(f"fetching model {uri}", exc) from exc
    partial.replace(target)  # atomic: a half-written file is never mistaken for the model
    return target
