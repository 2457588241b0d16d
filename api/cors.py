"""CORS for an allow-list of origins: other sites' pages that may call the API.

The demo page is served by the API itself and needs none. A page elsewhere
(the original React frontend, say) is let in only when its origin is listed
in ``DARKROOM_CORS_ORIGINS``; it gets its own origin echoed back with
``Access-Control-Allow-Credentials: true``, because that frontend sends
``withCredentials``. Its axios call also sends a request header named
``credentials`` (a header, not the fetch option), so that name is allowed
too: without it the browser refuses the preflight and nothing is uploaded.
``*`` is never answered: with credentials browsers refuse it, and without a
list nobody else is allowed.
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST"
# the keys' two headers (api/access.py) and the original frontend's `credentials`: a browser sends
# none of them unless it is listed here
ALLOWED_HEADERS = frozenset({"content-type", "accept", "x-requested-with", "authorization", "x-api-key", "credentials"})
EXPOSED_HEADERS = "Location, Retry-After"
PREFLIGHT_MAX_AGE = "600"


def cors_headers(origin: str | None, allowed: frozenset[str], preflight: bool, asked: str) -> dict[str, str]:
    """The CORS headers to add to an answer (none for an origin not on the list)."""
    if origin is None or origin not in allowed:
        return {}
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
    }
    if preflight:
        wanted = [name.strip() for name in asked.split(",") if name.strip().lower() in ALLOWED_HEADERS]
        headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        if wanted:
            headers["Access-Control-Allow-Headers"] = ", ".join(wanted)
    return headers


def install_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer CORS for ``origins``; Flask answers each route's OPTIONS (the preflight) itself."""
    allowed = frozenset(origins)

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        response.vary.add("Origin")  # caches must not serve one origin's answer to another
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        asked = request.headers.get("Access-Control-Request-Headers", "")
        response.headers.update(cors_headers(request.headers.get("Origin"), allowed, preflight, asked))
        return response
