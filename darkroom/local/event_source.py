"""Lambda's SQS event source mapping, played locally: the Lambda tier of ``DARKROOM_TIER=lambda make run``.

On AWS the mapping long-polls the job queue, gathers a batch (batch size,
batching window), invokes the function with it, at most ``max_concurrency``
invocations at once, and deletes the records the function did not report in
``batchItemFailures``; the others come back after their visibility timeout.
This does the same against the local moto queue, calling the real handler
(worker/function.py) in this process: ``python -m darkroom.local.event_source``
imports ``worker.lambda_handler`` (the init phase: the model is loaded once)
and runs one poller thread per allowed invocation. They share the one loaded
model, where Lambda would give each environment its own.

With ``DARKROOM_LAMBDA_MAPPING`` set (``DARKROOM_TIER=auto``) it obeys that
mapping's Enabled state in the emulator, read through the API's own adapter
(pool/switch.py): while the API has it disabled, it receives nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from jobs.aws import AWS_ERRORS, ServiceUnavailable, lambda_client, sqs_client
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from pool.settings import EventSourceSettings, PoolSettings
from pool.switch import LambdaTier

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event, "RemainingTime"], Mapping[str, Any]]
SWITCH_POLL_SECONDS = 1.0  # how often a disabled mapping looks whether it is enabled again


@dataclass(frozen=True)
class RemainingTime:
    """Lambda's context object, as far as the handler reads it: the time left before the function's limit."""

    deadline: float  # time.monotonic() seconds

    @classmethod
    def starting_now(cls, timeout_seconds: float) -> RemainingTime:
        return cls(time.monotonic() + timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def event_of(messages: list[MessageTypeDef], queue_arn: str, region: str) -> Event:
    """Received SQS messages as the event Lambda hands the function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class EventSourceMapping:
    """Polls the queue and invokes handlers: one poller per allowed concurrent invocation."""

    def __init__(
        self,
        sqs: SQSClient,
        queue: JobQueue,
        settings: EventSourceSettings,
        region: str,
        wait_seconds: int = 20,
        switch: LambdaTier | None = None,
    ) -> None:
        self.sqs = sqs
        self.switch = switch  # None: always enabled (DARKROOM_TIER=lambda)
        self.queue = queue
        self.settings = settings
        self.region = region
        self.wait_seconds = wait_seconds
        self.arn = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.stopping = threading.Event()
        self.invocations = 0
        self.in_flight = 0  # invocations running now
        self._count = threading.Lock()

    def receive_batch(self) -> list[MessageTypeDef]:
        """Up to batch_size messages: the first long poll, then more until the batch is full or the window ends."""
        messages: list[MessageTypeDef] = []
        window_ends = time.monotonic() + self.settings.batching_window_seconds
        wait = self.wait_seconds
        while len(messages) < self.settings.batch_size and not self.stopping.is_set():
            arguments: dict[str, Any] = {
                "QueueUrl": self.queue.url,
                "MaxNumberOfMessages": min(10, self.settings.batch_size - len(messages)),
                "WaitTimeSeconds": wait,
                "MessageSystemAttributeNames": ["All"],
            }
            if self.settings.visibility_seconds:
                arguments["VisibilityTimeout"] = self.settings.visibility_seconds
            messages += self.sqs.receive_message(**arguments).get("Messages", [])
            left = window_ends - time.monotonic()
            if not messages and wait:  # an empty long poll: back to the poller, which looks at the switch again
                return messages
            if left < 1:
                break
            wait = min(int(left), 20)
        return messages

    def invoke(self, handler: Handler, messages: list[MessageTypeDef]) -> list[str]:
        """One invocation; deletes the records not reported as failures and returns the failures' ids."""
        with self._count:
            self.invocations += 1
            self.in_flight += 1
        try:
            context = RemainingTime.starting_now(self.settings.timeout_seconds)
            result = handler(event_of(messages, self.arn, self.region), context)
            failed = {str(item["itemIdentifier"]) for item in result.get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
                self.sqs.delete_message_batch(QueueUrl=self.queue.url, Entries=entries)  # type: ignore[arg-type]
            return sorted(failed)
        finally:
            with self._count:
                self.in_flight -= 1

    def poll(self, handler: Handler) -> None:
        """One poller: receive, invoke, settle, until stopped; nothing while the mapping is disabled."""
        while not self.stopping.is_set():
            try:
                if self.switch is not None and not self.switch.enabled():
                    self.stopping.wait(SWITCH_POLL_SECONDS)
                    continue
                messages = self.receive_batch()
                if messages:
                    self.invoke(handler, messages)
            except (*AWS_ERRORS, ServiceUnavailable) as exc:  # the emulator restarting, say: try again shortly
                log.warning("event source mapping: %s", exc)
                self.stopping.wait(1.0)

    def run(self, handlers: list[Handler]) -> None:
        """One poller thread per handler (the concurrency limit), until ``stopping`` is set."""
        threads = [
            threading.Thread(target=self.poll, args=(handler,), name=f"invocation-{i}", daemon=True)
            for i, handler in enumerate(handlers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def main() -> int:
    """``python -m darkroom.local.event_source``: the local Lambda tier (settings from DARKROOM_*)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lambda[%(process)d] %(levelname)s %(message)s")
    aws = AwsSettings.from_env(os.environ)
    settings = EventSourceSettings.from_env(os.environ)
    wait_seconds = int(os.environ.get("DARKROOM_WAIT_SECONDS", "20"))
    from worker.function import JobFunction
    from worker.lambda_handler import FUNCTION  # the init phase: settings, clients, the model
    from worker.overlap import TakingTurns

    shared = TakingTurns(FUNCTION.runner.enhancer)  # the invocations take turns on the one model
    functions = [
        JobFunction(
            FUNCTION.settings,
            FUNCTION.store,
            JobQueue(FUNCTION.queue.sqs, FUNCTION.queue.url),
            FUNCTION.dead_letters,
            shared,
        )
        for _ in range(settings.max_concurrency)
    ]
    sqs = sqs_client(aws)
    mapping_id = PoolSettings.from_env(os.environ).lambda_mapping
    switch = LambdaTier(lambda_client(aws), mapping_id) if mapping_id else None
    mapping = EventSourceMapping(sqs, JobQueue.named(sqs, aws.queue), settings, aws.region, wait_seconds, switch)

    def stop(signum: int, frame: FrameType | None) -> None:
        mapping.stopping.set()
        if mapping.in_flight == 0:  # only long polls to wait for: a batch received now returns after its visibility
            log.info("%s: stopping", signal.Signals(signum).name)
            raise SystemExit(0)
        log.info("%s: finishing the invocations in flight", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "event source mapping on %s: batch %d, window %d s, concurrency %d, timeout %d s",
        aws.queue,
        settings.batch_size,
        settings.batching_window_seconds,
        settings.max_concurrency,
        settings.timeout_seconds,
    )
    mapping.run([function.handle for function in functions])
    return 0


if __name__ == "__main__":
    sys.exit(main())
