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

    def warm_up(self) -> bool:
        """Invoke the function once, asynchronously, so an environment loads the model; False with no function.

        The handler answers the warm-up event at once (worker/function.py); Lambda queues the
        invocation and returns 202 without waiting for the init phase.
        """
        if not self.function_name:
            return False
        try:
            self.awslambda.invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(WARM_UP_EVENT).encode()
            )
        except AWS_ERRORS as exc:
            raise unavailable(f"invoking {self.function_name} to warm it", exc) from exc
        return True
