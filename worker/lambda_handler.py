"""The Lambda entry point (``awslambdaric worker.lambda_handler.handler``): the init phase builds the function.

Importing this module is Lambda's init phase: settings from DARKROOM_*
variables (the only place the function reads them), the clients, and the
model, loaded and warmed once per execution environment and kept for every
invocation after. ``handler`` is what Lambda calls per batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jobs.aws import s3_client, sqs_client, ssm_client
from jobs.queue import JobQueue
from jobs.store import JobStore
from worker.function import JobFunction, LambdaContext
from worker.methods import load_enhancer
from worker.metrics import metrics_sink
from worker.settings import WorkerSettings
from worker.startup import process_started_at, warm_up, with_webhook_secret

log = logging.getLogger(__name__)


def build_function(environ: Mapping[str, str]) -> JobFunction:
    """Everything an invocation needs, made once: raises (and Lambda reports an init error) if it cannot be."""
    started_at = process_started_at()
    settings = WorkerSettings.from_env(environ)
    if "DARKROOM_WORKER_ID" not in environ and "AWS_LAMBDA_LOG_STREAM_NAME" in environ:
        settings = replace(settings, worker_id=f"lambda:{environ['AWS_LAMBDA_LOG_STREAM_NAME'].rsplit(']', 1)[-1]}")
    if settings.webhook.secret_parameter:
        settings = with_webhook_secret(settings, ssm_client(settings.aws))
    s3 = s3_client(settings.aws)
    enhancer = load_enhancer(settings.models, s3)
    log.info("warm-up: %.2f s", warm_up(enhancer))
    sqs = sqs_client(settings.aws)
    queue = JobQueue.named(sqs, settings.aws.queue)
    dead_letters = JobQueue.named(sqs, settings.aws.dead_letter_queue)
    metrics = metrics_sink(settings.metrics_port, settings.metrics_emf)  # the template sets DARKROOM_WORKER_EMF
    store = JobStore(s3, settings.aws.bucket)
    function = JobFunction(settings, store, queue, dead_letters, enhancer, started_at, metrics)
    log.info("function ready %.2f s after its process started", function.ready_seconds)
    return function


logging.getLogger().setLevel(logging.INFO)  # Lambda's runtime installs the handler; the level is ours
FUNCTION = build_function(os.environ)


def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    return FUNCTION.handle(event, context)
