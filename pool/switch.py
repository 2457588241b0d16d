"""The Lambda tier's controls, as the API uses them: the event source mapping's switch and a warm-up invoke.

With ``DARKROOM_TIER=auto`` the mapping's own ``Enabled`` state is which tier
serves: enabled, the function takes the queue's jobs; disabled, it receives
nothing and spot workers serve. Every API host and process reads the same
state from Lambda, and the local stack's event source mapping
(darkroom/local/event_source.py) reads it through this same adapter.

Errors are Lambda's botocore errors translated to ``ServiceUnavailable``, as
jobs/aws.py does for S3 and SQS: the caller tries again on its next round.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING

from jobs.aws import AWS_ERRORS, unavailable
from jobs.message import WARM_UP_EVENT

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

log = logging.getLogger(__name__)

ON_STATES = frozenset({"Enabled", "Enabling"})  # the mapping polls the queue, or is about to


class LambdaTier:
    """One function and its SQS event source mapping (``mapping_id``, its UUID)."""

    def __init__(self, awslambda: LambdaClient, mapping_id: str, function_name: str = "") -> None:
        self.awslambda = awslambda
        self.mapping_id = mapping_id
        self.function_name = function_name
        self._guard = threading.Lock()
        self._warmed_at: float | None = None

    def enabled(self) -> bool:
        """Whether the mapping feeds the function now (its state Enabled or Enabling)."""
        try:
            state = self.awslambda.get_event_source_mapping(UUID=self.mapping_id)["State"]
        except AWS_ERRORS as exc:
            raise unavailable(f"reading event source mapping {self.mapping_id}", exc) from exc
        return state in ON_STATES

    def turn(self, on: bool) -> None:
        """Enable or disable the mapping. Jobs already received finish; disabled, it receives no more."""
        try:
            self.awslambda.update_event_source_mapping(UUID=self.mapping_id, Enabled=on)
        except AWS_ERRORS as exc:
            raise unavailable(f"turning event source mapping {self.mapping_id} {'on' if on else 'off'}", exc) from exc
        log.warning("event source mapping %s turned %s", self.mapping_id, "on" if on else "off")

    def warm_up(self, at_most_every: float = 0.0) -> None:
        """Invoke the function once, asynchronously, so an environment loads the model (nothing with no function).

        At most once per ``at_most_every`` seconds from this process, however many pages load: a warm-up
        is for the first page of a quiet spell, and each one costs an init that competes with jobs for the
        function's reserved concurrency. The handler answers the warm-up event at once
        (worker/function.py); Lambda queues the invocation and returns 202 without waiting for the init.
        """
        if not self.function_name or not self._due(at_most_every):
            return
        try:
            self.awslambda.invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(WARM_UP_EVENT).encode()
            )
        except AWS_ERRORS as exc:
            raise unavailable(f"invoking {self.function_name} to warm it", exc) from exc

    def _due(self, every: float) -> bool:
        now = time.monotonic()
        with self._guard:
            if self._warmed_at is not None and now - self._warmed_at < every:
                return False
            self._warmed_at = now
            return True
