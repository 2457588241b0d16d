"""Fault injection for S3 and SQS through botocore's own event hooks.

A ``FaultInjector`` attached to a boto3 client answers chosen calls with
what AWS sends on a bad day (throttling, a 500) or fails them the way a
network does (a read timeout, a reset connection), before any byte leaves
the process. Everything above the hook runs as in production: botocore's
retries, our adapters' error translation, the API's 503s, the worker's
backoff. Used by the fault tests and by ``make soak``; nothing in the
product imports it.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError


class FaultKind(Enum):
    THROTTLE = "throttle"  # 503 SlowDown (S3) / 400 RequestThrottled (SQS): retryable, slows the caller
    SERVER_ERROR = "server-error"  # 500 InternalError
    TIMEOUT = "timeout"  # the response never came (the request may or may not have been applied)
    RESET = "reset"  # the connection dropped


@dataclass
class Fault:
    """Which calls fail, how, and how often. ``operation`` is botocore's name ('PutObject'), or '*'."""

    operation: str
    kind: FaultKind
    times: int | None = None  # fire this many times in all, then let calls through; None: no limit
    probability: float = 1.0
    url_contains: str = ""  # only requests whose URL contains this (an S3 key prefix, say)

    def matches(self, operation: str, url: str) -> bool:
        return self.operation in ("*", operation) and self.url_contains in url and self.times != 0


@dataclass
class FaultInjector:
    faults: list[Fault]
    seed: int = 0
    fired: Counter[str] = field(default_factory=Counter)  # "s3.PutObject:throttle" -> count
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def attach(self, *clients: BaseClient) -> None:
        for client in clients:
            service = client.meta.service_model.service_id.hyphenize()
            protocol = client.meta.service_model.protocol

            def before_send(request: AWSPreparedRequest, event_name: str, protocol: str = protocol, **_: Any) -> Any:
                return self._before_send(request, event_name, protocol)

            client.meta.events.register(f"before-send.{service}", before_send)

    def total(self) -> int:
        return sum(self.fired.values())

    def _before_send(self, request: AWSPreparedRequest, event_name: str, protocol: str) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        fault = self._choose(operation, request.url)
        if fault is None:
            return None
        if fault.kind is FaultKind.TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.kind is FaultKind.RESET:
            raise ConnectionClosedError(endpoint_url=request.url)
        return error_response(request.url, protocol, fault.kind)

    def _choose(self, operation: str, url: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(operation, url) and self._random.random() < fault.probability:
                    if fault.times is not None:
                        fault.times -= 1
                    self.fired[f"{operation}:{fault.kind.value}"] += 1
                    return fault
        return None


class _Body:
    """The ``raw`` an AWSResponse reads its content from."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


ERRORS = {
    FaultKind.THROTTLE: {
        "rest-xml": (503, "SlowDown"),
        "query": (400, "Throttling"),
        "json": (400, "RequestThrottled"),
    },
    FaultKind.SERVER_ERROR: {
        "rest-xml": (500, "InternalError"),
        "query": (500, "InternalError"),
        "json": (500, "InternalError"),
    },
}


def error_response(url: str, protocol: str, kind: FaultKind) -> AWSResponse:
    """An error response in the service's own wire format, so botocore parses and classifies it as AWS's."""
    status, code = ERRORS[kind][protocol if protocol in ("rest-xml", "query", "json") else "query"]
    message = f"injected {kind.value}"
    if protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}
        body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode()
    elif protocol == "rest-xml":
        headers = {"Content-Type": "application/xml"}
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    else:
        headers = {"Content-Type": "text/xml"}
        body = f"<ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>".encode()
    wire_headers = HTTPHeaders()
    for name, value in headers.items():
        wire_headers[name] = value
    return AWSResponse(url, status, wire_headers, _Body(body))
