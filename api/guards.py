"""The checks that run before a job or pool route: the caller's key and its submit limit (see api/access.py)."""

from __future__ import annotations

from flask import request

from api.access import caller, key_required, too_many
from api.services import api_settings, services


def client_address() -> str:
    """Who is asking, for limits without a key: the peer address (behind a proxy, configure ProxyFix first)."""
    return request.remote_addr or "unknown"


def guard_submit(count: bool = True) -> None:
    """Before a job is accepted: a valid key if one is presented or required, and the caller's limit.

    ``count=False`` checks the key only: a job from a direct upload was counted when its upload was signed.
    """
    access = api_settings().access
    key = caller(access)
    if key is None and access.require_key and access.public_submits_per_hour == 0:
        raise key_required("submitting a job")
    if not count:
        return
    if key is not None:
        wait = services().submit_limiter.hit(f"key:{key}")
        limit = f"at most {access.submits_per_minute} submits a minute per API key"
    elif not access.require_key:
        wait = services().submit_limiter.hit(f"addr:{client_address()}")
        limit = f"at most {access.submits_per_minute} submits a minute from one client"
    else:
        wait = services().public_limiter.hit(f"addr:{client_address()}")
        limit = f"at most {access.public_submits_per_hour} submits an hour without an API key"
    if wait > 0:
        raise too_many(wait, limit)


def guard_job_read() -> None:
    """A job's own routes: its id is the capability, but a presented key must be valid and a closed API needs one."""
    access = api_settings().access
    if caller(access) is None and access.require_key and access.public_submits_per_hour == 0:
        raise key_required("reading a job")


def guard_pool_view() -> None:
    access = api_settings().access
    if caller(access) is None and access.require_key:
        raise key_required("the pool view")
