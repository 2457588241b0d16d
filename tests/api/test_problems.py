"""Every error the app answers is application/problem+json, and none leaks internals."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from flask import Flask

from api.problems import PROBLEM_TYPES, Problem
from jobs.aws import ServiceUnavailable

PROBLEM = "application/problem+json"


def test_unknown_route_is_a_404_problem(app: Flask) -> None:
    for path in ("/nope", "/v1/jobs/../../etc/passwd", "/v1/jobs/a/b/c"):
        response = app.test_client().get(path)
        assert response.status_code == 404
        assert response.mimetype == PROBLEM
        assert response.get_json()["type"] == "urn:darkroom:problem:not-found"


def test_wrong_method_is_a_405_problem_with_allow(app: Flask) -> None:
    response = app.test_client().delete("/v1/jobs")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"] == "urn:darkroom:problem:method-not-allowed"
    assert "POST" in response.headers["Allow"]


def test_unexpected_error_is_a_generic_500_and_is_logged(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/broken", view_func=broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"] == "urn:darkroom:problem:internal-error"
    assert "secret" not in response.get_data(as_text=True)
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


def test_service_unavailable_is_a_503_problem_with_retry_after(app: Flask) -> None:
    def down() -> str:
        raise ServiceUnavailable("writing s3://private-bucket/key failed: SlowDown")

    app.add_url_rule("/down", view_func=down)
    response = app.test_client().get("/down")
    assert response.status_code == 503
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    assert "private-bucket" not in response.get_data(as_text=True)


def test_every_problem_the_api_raises_is_in_the_table_and_every_entry_is_raised() -> None:
    """Status and title are written once, in PROBLEM_TYPES; code names only the slug."""
    api = Path(__file__).resolve().parents[2] / "api"
    raised = {slug for path in api.glob("*.py") for slug in re.findall(r'"([a-z]+(?:-[a-z]+)+)"', path.read_text())}
    assert set(PROBLEM_TYPES) <= raised
    problems = {slug for path in api.glob("*.py") for slug in re.findall(r'Problem\(\s*"([a-z-]+)"', path.read_text())}
    assert problems <= set(PROBLEM_TYPES)
    with pytest.raises(KeyError):
        Problem("no-such-problem", "a slug outside the table is a programming error")
