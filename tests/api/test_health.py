"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from api.app import create_app
from api.openapi import DOCUMENT
from api.settings import ApiSettings
from jobs.settings import AwsSettings
from tests.api.conftest import MakeApp, unreachable, unreachable_app
from tests.support.aws import sqs_of


def test_healthz_does_no_io() -> None:
    app = create_app(ApiSettings(aws=unreachable()))
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_with_clients_the_app_makes_itself(aws: AwsSettings) -> None:
    response = create_app(ApiSettings(aws=aws)).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "queue": {"visible": 0, "in_flight": 0}}


def test_readyz_is_503_when_aws_is_unreachable() -> None:
    app = unreachable_app()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "urn:darkroom:problem:service-unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_readyz_is_503_when_the_queue_is_missing(make_app: MakeApp, aws: AwsSettings) -> None:
    client = make_app().test_client()
    sqs = sqs_of(aws)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=aws.queue)["QueueUrl"])
    assert client.get("/readyz").status_code == 503


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(path in OpenAPI's spelling, method) for every route but Flask's static files."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        operations |= {(path, method.lower()) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    return operations


def test_openapi_document_is_valid_and_describes_every_route(app: Flask, client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document == DOCUMENT
    validate(document)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served_operations(app)
    assert ("/v1/jobs", "post") in documented


def test_every_documented_error_response_uses_the_problem_schema() -> None:
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            for code, response in operation["responses"].items():
                if "text/plain" in response.get("content", {}):  # the original app's /download: "Not ready"
                    continue
                if code == "default" or int(code) >= 400:
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
