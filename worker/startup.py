"""Getting a worker from process start to ready: where it runs, and a warm enhancer.

Boot time is what a client waits for when no worker is running, so it is
measured from the process's own start (interpreter and imports included) to
the moment the loop first asks for work.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jobs.aws import AWS_ERRORS
from jobs.pool import check_instance_id
from jobs.store import JobStore
from worker.encode import encode_jpeg
from worker.frames import Enhancer, InputError, RawFrame, SrgbFrame
from worker.imds import InstanceMetadata, MetadataUnavailable
from worker.lifecycle import WorkerRecorder
from worker.model_files import published_model
from worker.pipeline import enhance
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)


def with_webhook_secret(settings: WorkerSettings, ssm: SSMClient) -> WorkerSettings:
    """The settings with the webhook secret read from its SSM SecureString, when only the parameter is named.

    On AWS the instance's user data holds names only, never a secret; the role may read this one parameter.
    Unreadable, the worker still works: each callback is then recorded as refused in its job's status.
    """
    webhook = settings.webhook
    if webhook.secret or not webhook.secret_parameter:
        return settings
    try:
        secret = ssm.get_parameter(Name=webhook.secret_parameter, WithDecryption=True)["Parameter"]["Value"]
    except AWS_ERRORS as exc:
        log.error(
            "cannot read the webhook secret from %s (%s): callbacks will be refused", webhook.secret_parameter, exc
        )
        return settings
    return replace(settings, webhook=replace(webhook, secret=secret))


def with_published_models(settings: WorkerSettings, ssm: SSMClient) -> WorkerSettings:
    """The settings with each kind's weights as published in SSM (model updates without an AMI rebuild)."""
    models, path = settings.models, settings.models.model_parameters
    raw = published_model(ssm, path, "raw", models.raw_model)
    srgb = published_model(ssm, path, "srgb", models.srgb_model)
    return replace(settings, models=replace(models, raw_model=raw, srgb_model=srgb))


def process_started_at() -> float:
    """Epoch seconds when this process started (Linux: from /proc, to 10 ms), else now."""
    try:
        fields_after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return time.time()
    start_ticks = int(fields_after_name[19])  # field 22, starttime, in clock ticks after boot
    return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def warm_up(enhancer: Enhancer) -> float:
    """Run the enhancer and the encoder once on a tiny frame of each kind; returns the seconds taken.

    The first call pays for lazy set-up (the CUDA context, kernel selection,
    libraries loading on first use); better here than in a client's first job.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    raw = RawFrame(
        packed=rng.uniform(0.0, 0.02, (4, 32, 32)).astype(np.float32),
        white_balance=np.ones(3, np.float32),
        cam_to_srgb=np.eye(3, dtype=np.float32),
        flip=0,
    )
    srgb = SrgbFrame(rgb=rng.uniform(0.0, 0.05, (64, 64, 3)).astype(np.float32))
    for frame in (raw, srgb):
        try:
            image, _, _ = enhance(frame, None, enhancer)
        except InputError:  # an enhancer for one kind of input only
            continue
        encode_jpeg(image)
    return time.perf_counter() - started


def find_instance(
    settings: WorkerSettings, store: JobStore, started_at: float
) -> tuple[InstanceMetadata | None, WorkerRecorder]:
    """The metadata client and a started recorder for this instance's record (state STARTING).

    Off an instance (``imds_url`` empty, or no metadata service answers) there
    are no notices to watch and no record to write: (None, an in-memory
    recorder)."""
    if settings.imds_url:
        metadata = InstanceMetadata(settings.imds_url)
        try:
            instance_id = check_instance_id(metadata.instance_id())
            log.info("on instance %s (%s)", instance_id, metadata.instance_type())
            return metadata, WorkerRecorder(store, instance_id, started_at, settings.heartbeat_seconds).start()
        except MetadataUnavailable as exc:
            log.warning("no instance metadata at %s (%s): no worker record, no notices", settings.imds_url, exc)
    return None, WorkerRecorder(None, settings.worker_id, started_at, settings.heartbeat_seconds)
