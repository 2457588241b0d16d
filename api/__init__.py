"""Deployable 1: the HTTP API (Flask; uWSGI in production). Never imports torch or worker.

``create_app`` lives in api/app.py and is loaded on first use, so that the
small pure parts (``api.capacity.rule``, the settings) can be imported by
the CLI, the simulator and the deploy tools without loading Flask and boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import ApiSettings, create_app


def __getattr__(name: str) -> Any:
    if name in ("ApiSettings", "create_app"):
        from api import app

        return getattr(app, name)
    raise AttributeError(f"module 'api' has no attribute {name!r}")


__all__ = ["ApiSettings", "create_app"]
