"""``GET /``: the demo page, plain HTML, CSS and JavaScript from api/static (no build step, no CDN).

Its script and style are served by Flask's own static route (``/static/...``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("page", __name__)


@bp.get("/")
def index() -> Response:
    response = current_app.send_static_file("index.html")
    response.headers["Cache-Control"] = "no-cache"  # the page is small; always the deployed version
    return response
