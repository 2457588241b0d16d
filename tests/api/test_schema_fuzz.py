"""Schemathesis against the served OpenAPI document: generated requests for every operation, no 5xx.

The schema is loaded from the app itself (``/openapi.json`` over WSGI), so a
route added without its document, or a document that lies about a route,
shows up here. Each operation gets a bounded number of generated requests;
volume lives in ``make soak``.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import pool_app
from tests.support.aws import PoolWorld

EXAMPLES_PER_OPERATION = 25
# Every other check runs (no 5xx, status codes, content types, response schemas). A schema-valid
# upload is any bytes; whether they are an image is for validation to judge, so refusing them is right.
IMAGE_CONTENT_IS_NOT_IN_THE_SCHEMA = schemathesis.checks.positive_data_acceptance


def test_no_generated_request_makes_the_server_fail(pool_world: PoolWorld) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", pool_app(pool_world, max_workers=2))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7, "the document lists the API's operations"
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[IMAGE_CONTENT_IS_NOT_IN_THE_SCHEMA])

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
