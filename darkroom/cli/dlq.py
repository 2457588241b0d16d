"""``darkroom dlq list | redrive | purge``: the dead-letter queue, with each job's reason (jobs/dead_letters.py)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from darkroom.cli.commands import Commands, add_command

if TYPE_CHECKING:
    from jobs.dead_letters import DeadLetter
    from jobs.queue import JobQueue
    from jobs.store import JobStore


def letters(args: argparse.Namespace) -> tuple[JobStore, JobQueue, JobQueue, list[DeadLetter]]:
    """Sweep what is still visible in the DLQ (as an idle worker would), then the recorded letters.

    With job ids given, only theirs.
    """
    from jobs import dead_letters as records
    from jobs.aws import s3_client, sqs_client
    from jobs.queue import JobQueue
    from jobs.settings import AwsSettings
    from jobs.store import JobStore
    from worker.dead_letters import sweep_all_dead_letters

    aws = AwsSettings.from_env(os.environ)
    sqs = sqs_client(aws)
    store, dlq = JobStore(s3_client(aws), aws.bucket), JobQueue.named(sqs, aws.dead_letter_queue)
    sweep_all_dead_letters(store, dlq)
    wanted = set(args.ids)
    found = [letter for letter in records.listed(store) if not wanted or letter.job_id in wanted]
    return store, JobQueue.named(sqs, aws.queue), dlq, found


def cmd_list(args: argparse.Namespace) -> int:
    """List the dead-lettered jobs, oldest first: id, when a sweep found it, and why its job stopped."""
    found = letters(args)[3]
    for letter in found:
        print(f"{letter.job_id}  {letter.at}  {letter.reason}")
    print(f"{len(found)} dead-lettered job(s)")
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    """Run the dead-lettered jobs (all, or the ids given) once more: queued again, their message on the job queue."""
    from jobs.dead_letters import redrive

    store, queue, dlq, found = letters(args)
    for letter in found:
        print(f"{letter.job_id}  {redrive(store, queue, dlq, letter).state.value}")
    print(f"{len(found)} job(s) redriven")
    return 0 if found or not args.ids else 1


def cmd_purge(args: argparse.Namespace) -> int:
    """Drop the dead letters (all, or the ids given); their jobs stay failed, with their reason."""
    from jobs.dead_letters import purge

    store, _, dlq, found = letters(args)
    for letter in found:
        purge(store, dlq, letter)
    print(f"{len(found)} dead letter(s) purged")
    return 0 if found or not args.ids else 1


def register(commands: Commands) -> None:
    dlq = commands.add_parser("dlq", help="the dead-letter queue: list, redrive or purge, with each job's reason")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, run in (("list", cmd_list), ("redrive", cmd_redrive), ("purge", cmd_purge)):
        action = add_command(actions, name, run)
        action.add_argument("ids", nargs="*", metavar="JOB_ID", help="only these jobs (default: every one)")
