"""Job ids and the S3 keys derived from them.

A job id is uuid4 text, checked with one strict pattern wherever it enters
(URL, queue message, S3 key). No user-supplied text becomes part of an S3 key
except a checked id and an extension from a fixed list.
"""

from __future__ import annotations

import re
import uuid

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

RAW_EXTENSIONS = frozenset({"dng", "arw", "nef", "cr2", "raf", "orf", "rw2", "pef", "srw", "raw"})
SRGB_EXTENSIONS = frozenset({"jpg", "png", "tif"})
UPLOAD_EXTENSIONS = RAW_EXTENSIONS | SRGB_EXTENSIONS


class InvalidJobId(ValueError):
    """Text that is not a job id was given where one is required."""


def new_job_id() -> str:
    """A fresh, unguessable job id (122 random bits)."""
    return str(uuid.uuid4())


def is_job_id(text: object) -> bool:
    return isinstance(text, str) and JOB_ID_PATTERN.fullmatch(text) is not None


def check_job_id(text: object) -> str:
    if not is_job_id(text):
        raise InvalidJobId(f"not a job id: {str(text)[:64]!r}")
    assert isinstance(text, str)
    return text


def upload_key(job_id: str, ext: str) -> str:
    if ext not in UPLOAD_EXTENSIONS:
        raise ValueError(f"unsupported upload extension {ext!r}")
    return f"uploads/{check_job_id(job_id)}.{ext}"


def incoming_key(upload_id: str, ext: str) -> str:
    """Where a browser's direct upload lands; the job gets a checked copy under uploads/ the form cannot reach."""
    if ext not in UPLOAD_EXTENSIONS:
        raise ValueError(f"unsupported upload extension {ext!r}")
    return f"incoming/{check_job_id(upload_id)}.{ext}"


def ticket_key(upload_id: str) -> str:
    """A direct upload's ticket: what was signed for it (its key and size), until a job uses it."""
    return f"tickets/{check_job_id(upload_id)}.json"


RESULT_EXTENSIONS = frozenset({"jpg", "png", "tif"})


def result_key(job_id: str, ext: str = "jpg") -> str:
    if ext not in RESULT_EXTENSIONS:
        raise ValueError(f"unsupported result extension {ext!r}")
    return f"results/{check_job_id(job_id)}.{ext}"


def status_key(job_id: str) -> str:
    return f"status/{check_job_id(job_id)}.json"


OWNER_PATTERN = re.compile(r"[0-9a-f]{64}")  # the SHA-256 of an API key (api.access.key_hash)
NEWEST_FIRST_BASE = 10**13  # ms since 1970 counted down from here: S3 lists the newest job first until 2286


def owner_prefix(owner: str) -> str:
    if OWNER_PATTERN.fullmatch(owner) is None:
        raise ValueError("not an API key hash")
    return f"owners/{owner}/"


def owner_job_key(owner: str, created_ms: int, job_id: str) -> str:
    """An entry in a key's list of jobs: S3 lists these newest first (the time is counted down)."""
    return f"{owner_prefix(owner)}{NEWEST_FIRST_BASE - created_ms:013d}-{check_job_id(job_id)}"


def job_id_of_owner_key(key: str) -> str:
    return check_job_id(key[-36:])


def job_prefixes(job_id: str) -> tuple[str, str]:
    """Every key that holds a job's pixels: its upload (any extension) and its results."""
    return f"uploads/{check_job_id(job_id)}.", f"results/{job_id}."


def webhook_key(job_id: str) -> str:
    """A callback owed but not yet delivered (worker/outbox.py)."""
    return f"webhooks/{check_job_id(job_id)}.json"


SENDING_PREFIX = "sending/"


def sending_key(job_id: str) -> str:
    """A job's message while the API sends it: left behind only if the API died before the queue had it."""
    return f"{SENDING_PREFIX}{check_job_id(job_id)}.json"


def parse_upload_key(key: str) -> tuple[str, str]:
    """Split an upload key into (job id, extension), refusing anything else."""
    match = re.fullmatch(r"uploads/([^/.]+)\.([a-z0-9]+)", key)
    if match is None or match.group(2) not in UPLOAD_EXTENSIONS:
        raise ValueError(f"not an upload key: {key[:80]!r}")
    return check_job_id(match.group(1)), match.group(2)
