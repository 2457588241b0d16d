"""The queue message: what the API tells a worker about one job.

Versioned JSON. A worker refuses a version it does not know rather than
guessing; the message then goes back to the queue, where a newer worker may
take it, and ends in the dead-letter queue if none does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum

from jobs.ids import check_job_id, parse_upload_key
from jobs.outputs import JPEG, InvalidOutput, OutputFormat, parse_output

SCHEMA_VERSION = 1
RATIO_MIN = 1.0
RATIO_MAX = 300.0


class InputKind(StrEnum):
    RAW = "raw"  # a camera RAW mosaic, decoded with LibRaw
    SRGB = "srgb"  # a rendered JPEG/PNG/TIFF


class MessageError(ValueError):
    """A queue message that cannot be read as a job."""


class UnsupportedVersion(MessageError):
    """A message written by a newer (or unknown) producer."""


class InvalidRatio(ValueError):
    """An amplification ratio outside 1..300 that is not 'auto'."""


def parse_ratio(value: object) -> float | None:
    """Read an amplification ratio: a number in 1..300, or 'auto' (None).

    None and the empty string also mean 'auto'.
    """
    if value is None or value == "" or value == "auto":
        return None
    if isinstance(value, bool):
        raise InvalidRatio("ratio must be a number from 1 to 300 or 'auto'")
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRatio(f"ratio must be a number from 1 to 300 or 'auto', not {str(value)[:32]!r}") from None
    if not math.isfinite(ratio) or not RATIO_MIN <= ratio <= RATIO_MAX:
        raise InvalidRatio(f"ratio must be from 1 to 300, not {ratio:g}")
    return ratio


@dataclass(frozen=True)
class JobMessage:
    job_id: str
    upload_key: str
    kind: InputKind
    ratio: float | None  # None: choose automatically from the image
    submitted_at: str  # ISO 8601, UTC
    output: OutputFormat = JPEG

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": SCHEMA_VERSION,
                "id": self.job_id,
                "upload_key": self.upload_key,
                "kind": self.kind.value,
                "options": {
                    "ratio": "auto" if self.ratio is None else self.ratio,
                    "outputs": [self.output.name],
                    "quality": self.output.quality,
                },
                "submitted_at": self.submitted_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> JobMessage:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MessageError(f"message is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise MessageError("message is not a JSON object")
        if data.get("version") != SCHEMA_VERSION:
            raise UnsupportedVersion(f"message version {data.get('version')!r}; this worker reads {SCHEMA_VERSION}")
        try:
            job_id = check_job_id(data["id"])
            key_id, _ext = parse_upload_key(str(data["upload_key"]))
            if key_id != job_id:
                raise MessageError("upload key belongs to another job")
            options = data["options"]
            output = read_output(options)
            return cls(
                job_id=job_id,
                upload_key=data["upload_key"],
                kind=InputKind(data["kind"]),
                ratio=parse_ratio(options.get("ratio")),
                submitted_at=str(data["submitted_at"]),
                output=output,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, MessageError):
                raise
            raise MessageError(f"malformed message: {exc!r}") from None


def read_output(options: dict[str, object]) -> OutputFormat:
    outputs = options.get("outputs", ["jpeg"])
    if not isinstance(outputs, list) or len(outputs) != 1:
        raise MessageError(f"unknown outputs {outputs!r}")
    quality = options.get("quality") if outputs[0] == "jpeg" else None
    try:
        return parse_output(outputs[0], quality)
    except InvalidOutput as exc:
        raise MessageError(str(exc)) from None


# The page's pre-warm with the Lambda tier: the API invokes the function once, asynchronously, with this event,
# so an execution environment runs its init phase (the model loaded) before a job needs it. The handler
# recognises it and returns at once, touching no queue.
WARM_UP_EVENT: dict[str, str] = {"darkroom": "warm-up"}


def is_warm_up(event: object) -> bool:
    return isinstance(event, dict) and event.get("darkroom") == WARM_UP_EVENT["darkroom"] and "Records" not in event
