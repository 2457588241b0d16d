"""``python -m worker``: run one worker against the configured queue.

Configuration comes from DARKROOM_* environment variables (worker/settings.py,
listed by ``--help``); this is the only place the worker reads them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from jobs.aws import ServiceUnavailable, s3_client, sqs_client, ssm_client
from jobs.queue import JobQueue
from jobs.settings import help_text, settings_of
from jobs.store import JobStore
from worker.loop import Worker
from worker.methods import load_enhancer
from worker.metrics import metrics_sink
from worker.settings import WorkerSettings
from worker.startup import find_instance, process_started_at, warm_up, with_published_models, with_webhook_secret


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m worker",
        description="Long-poll the darkroom job queue and enhance each job's photo.",
        epilog="settings (environment variables):\n" + help_text(settings_of(WorkerSettings)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--max-jobs", type=int, default=None, help="stop after this many deliveries")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started_at = process_started_at()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s")
    try:
        settings = WorkerSettings.from_env(os.environ)
        if settings.webhook.secret_parameter:
            settings = with_webhook_secret(settings, ssm_client(settings.aws))
        if settings.models.model_parameters:
            settings = with_published_models(settings, ssm_client(settings.aws))
        s3 = s3_client(settings.aws)
        store = JobStore(s3, settings.aws.bucket)
        metadata, recorder = find_instance(settings, store, started_at)  # on an instance: records STARTING
        if metadata is not None:  # its instance id names the worker, in job statuses as in the pool view
            settings = replace(settings, worker_id=recorder.record.instance_id)
    except (ServiceUnavailable, ValueError) as exc:  # SettingsError is a ValueError
        logging.error("cannot start: %s", exc)
        return 1
    try:
        enhancer = load_enhancer(settings.models, s3)
        logging.info("warm-up: %.2f s", warm_up(enhancer))
        sqs = sqs_client(settings.aws)
        queue = JobQueue.named(sqs, settings.aws.queue)
        dead_letters = JobQueue.named(sqs, settings.aws.dead_letter_queue)
        metrics = metrics_sink(settings.metrics_port, settings.metrics_emf)
        worker = Worker(
            settings, store, queue, dead_letters, enhancer, recorder=recorder, metadata=metadata, metrics=metrics
        )
    except (ServiceUnavailable, OSError, ValueError) as exc:  # unreachable AWS, missing or bad weights, a port in use
        logging.error("cannot start: %s", exc)
        recorder.stopped(f"cannot start: {exc}")
        return 1
    worker.run(max_jobs=args.max_jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
