"""The checks that run before a job or pool route: the caller's key and its submit limit (see api/access.py)."""

from __future__ import annotations

import ipaddress

from flask import request

from api.access import caller, is_closed, is_operator, key_required, too_many
from api.problems import Problem
from api.services import api_settings, services
from jobs.status import JobStatus

IPV6_CLIENT_PREFIX = 64  # one subscriber's LAN: an IPv6 client can pick any of 2**64 addresses in it


def client_of(address: str | None) -> str:
    """Who is asking, for limits without a key: an IPv4 address, or an IPv6 client's /64.

    Behind a load balancer ``DARKROOM_TRUSTED_PROXIES`` makes the address the client's (api/app.py).
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def client_address() -> str:
    return client_of(request.remote_addr)


def guard_submit() -> str | None:
    """Before a job is accepted: a valid key if one is presented or required, and the caller's limit.

    Returns the hash of the caller's key (the job's owner), None without one.
    A direct upload counts twice: when its form is signed and when it is submitted as a job.
    """
    access = api_settings().access
    key = caller(access)
    if key is None and is_closed(access):
        raise key_required("submitting a job")
    wait, limit = count_submit(key)
    if wait > 0:
        raise too_many(wait, limit)
    return key


def count_submit(key: str | None) -> tuple[float, str]:
    """Count one submit against the caller's limit: (seconds to wait, 0.0 when allowed; the limit in words)."""
    access = api_settings().access
    if key is not None:
        wait = services().submit_limiter.hit(f"key:{key}")
        return wait, f"at most {access.submits_per_minute} submits a minute per API key"
    if not access.require_key:
        wait = services().submit_limiter.hit(f"addr:{client_address()}")
        return wait, f"at most {access.submits_per_minute} submits a minute from one client"
    wait = services().public_limiter.hit(f"addr:{client_address()}")
    return wait, f"at most {access.public_submits_per_hour} submits an hour without an API key"


def guard_more_submits(count: int, key: str | None) -> None:
    """A batch's files after its first (which ``guard_submit`` counted): each counts against the same limit."""
    for _ in range(count):
        wait, limit = count_submit(key)
        if wait > 0:
            raise too_many(wait, f"{limit}; each file of a batch counts as one")


def guard_job_list() -> str:
    """Listing jobs needs a key: the list is that key's jobs. Returns the key's hash."""
    key = caller(api_settings().access)
    if key is None:
        raise key_required("listing your jobs")
    return key


def guard_job_read() -> None:
    """A job's own routes: its id is the capability, but a presented key must be valid and a closed API needs one."""
    access = api_settings().access
    if caller(access) is None and is_closed(access):
        raise key_required("reading a job")


def guard_job_owner(status: JobStatus) -> JobStatus:
    """With keys required, a job made with a key is that key's: another key, or none, finds no such job.

    Operator keys see every job. A job made without a key (the demo page's), or any job while keys are
    optional, is reachable by its unguessable id alone: the id is the capability.
    """
    access = api_settings().access
    if status.owner is None or not access.require_key:
        return status
    key = caller(access)
    if key != status.owner and not is_operator(access, key):
        raise Problem("job-not-found", f"there is no job {status.job_id!r}")  # not a 403: existence stays hidden
    return status


def guard_pool_view() -> None:
    access = api_settings().access
    if caller(access) is None and access.require_key:
        raise key_required("the pool view")
