"""The SQS side of a job: send, long-poll, heartbeat, acknowledge, release.

botocore errors are translated to ``ServiceUnavailable`` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs.aws import AWS_ERRORS, unavailable
from jobs.message import JobMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LONG_POLL_SECONDS = 20  # SQS's maximum: fewer empty receives, less cost


@dataclass(frozen=True)
class Delivery:
    """One received copy of a message; the receipt handle is per delivery."""

    body: str
    receipt: str
    message_id: str
    receive_count: int


@dataclass(frozen=True)
class QueueDepth:
    visible: int  # waiting for a worker
    in_flight: int  # received by a worker, not yet deleted


class JobQueue:
    def __init__(self, sqs: SQSClient, url: str) -> None:
        self.sqs = sqs
        self.url = url

    @classmethod
    def named(cls, sqs: SQSClient, name: str) -> JobQueue:
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except AWS_ERRORS as exc:
            raise unavailable(f"finding queue {name}", exc) from exc
        return cls(sqs, url)

    def send(self, message: JobMessage) -> str:
        try:
            return self.sqs.send_message(QueueUrl=self.url, MessageBody=message.to_json())["MessageId"]
        except AWS_ERRORS as exc:
            raise unavailable("enqueueing the job", exc) from exc

    def receive(self, wait_seconds: int = LONG_POLL_SECONDS) -> Delivery | None:
        """Wait up to ``wait_seconds`` for one message."""
        deliveries = self.receive_batch(wait_seconds, max_messages=1)
        return deliveries[0] if deliveries else None

    def receive_batch(self, wait_seconds: int, max_messages: int) -> list[Delivery]:
        try:
            reply = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except AWS_ERRORS as exc:
            raise unavailable("receiving from the queue", exc) from exc
        return [
            Delivery(
                body=m["Body"],
                receipt=m["ReceiptHandle"],
                message_id=m["MessageId"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for m in reply.get("Messages", [])
        ]

    def delete(self, delivery: Delivery) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=delivery.receipt)
        except AWS_ERRORS as exc:
            raise unavailable("acknowledging the message", exc) from exc

    def set_visibility(self, delivery: Delivery, seconds: int) -> None:
        """Extend (heartbeat) or end (0: hand back now) a delivery's lease."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=delivery.receipt, VisibilityTimeout=seconds
            )
        except AWS_ERRORS as exc:
            raise unavailable("changing the message's visibility", exc) from exc

    def depth(self) -> QueueDepth:
        try:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        except AWS_ERRORS as exc:
            raise unavailable("reading the queue's depth", exc) from exc
        return QueueDepth(
            visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def max_receives(self) -> int | None:
        """Deliveries before SQS moves a message to the dead-letter queue (None: no redrive)."""
        try:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"])["Attributes"]
        except AWS_ERRORS as exc:
            raise unavailable("reading the queue's redrive policy", exc) from exc
        policy = attrs.get("RedrivePolicy")
        return int(json.loads(policy)["maxReceiveCount"]) if policy else None
