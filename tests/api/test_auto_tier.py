"""The request paths with DARKROOM_TIER=auto and lambda, through Flask's test client: submits, /v1/warm and
/v1/pool launch spot workers only while the pool serves, and warm invokes the function while it serves."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
from botocore.stub import Stubber
from flask.testing import FlaskClient

from api.app import create_app
from api.services import EXTENSION_KEY
from api.settings import ApiSettings
from api.tick import tick
from darkroom.local.aws import create_function_switch
from jobs.aws import lambda_client
from jobs.message import WARM_UP_EVENT
from pool.lock import lock_path
from pool.switch import LambdaTier
from tests.api import samples
from tests.api.test_jobs import submit
from tests.support.aws import PoolWorld, s3_of, sqs_of


def forget_warm_limits(world: PoolWorld) -> None:
    lock_path(world.aws.bucket, world.pool.name).with_suffix(".warm.sqlite").unlink(missing_ok=True)


def test_with_the_lambda_tier_warm_invokes_the_function_once_asynchronously(pool_world: PoolWorld) -> None:
    """Lambda's Invoke cannot run under moto without Docker, so botocore's Stubber checks the request's shape
    (the handler's side of the warm-up runs for real in tests/worker/test_function.py)."""
    awslambda = boto3.session.Session().client("lambda", region_name="us-east-1")
    pool = replace(pool_world.pool, tier="lambda", lambda_function="darkroom-worker")
    aws = pool_world.aws
    app = create_app(ApiSettings(aws=aws, pool=pool), s3=s3_of(aws), sqs=sqs_of(aws), awslambda=awslambda)
    expected = {
        "FunctionName": "darkroom-worker",
        "InvocationType": "Event",
        "Payload": json.dumps(WARM_UP_EVENT).encode(),
    }
    with Stubber(awslambda) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        body = app.test_client().post("/v1/warm").get_json()
        stub.assert_no_pending_responses()
    assert (body["tier"], body["serving"], body["enabled"], body["workers"]) == ("lambda", "lambda", False, [])
    assert pool_world.instances() == []
    forget_warm_limits(pool_world)


def test_a_warm_lambda_refuses_still_answers_with_the_pool_and_pages_warm_once_a_tick(pool_world: PoolWorld) -> None:
    """A throttled invoke is logged, not a 503: the warm is best effort. Botocore's Stubber: see above."""
    awslambda = boto3.session.Session().client("lambda", region_name="us-east-1")
    pool = replace(pool_world.pool, tier="lambda", lambda_function="darkroom-worker")
    aws = pool_world.aws
    app = create_app(ApiSettings(aws=aws, pool=pool), s3=s3_of(aws), sqs=sqs_of(aws), awslambda=awslambda)
    with Stubber(awslambda) as stub:
        stub.add_client_error("invoke", "TooManyRequestsException", "Rate exceeded", 429)
        replies = [app.test_client().post("/v1/warm") for _ in range(3)]  # only the first invokes
        stub.assert_no_pending_responses()
    assert [reply.status_code for reply in replies] == [200, 200, 200]
    assert replies[0].get_json()["serving"] == "lambda"
    forget_warm_limits(pool_world)


def test_with_auto_a_quiet_api_uses_the_function_and_its_timer_hands_a_backlog_to_the_pool(
    pool_world: PoolWorld,
) -> None:
    aws = pool_world.aws
    mapping = LambdaTier(lambda_client(aws), create_function_switch(aws, f"{pool_world.pool.name}-worker"))
    pool = replace(pool_world.pool, tier="auto", lambda_mapping=mapping.mapping_id, auto_pool_backlog=3)
    settings = ApiSettings(aws=aws, pool=pool, tick_seconds=0.001)  # each request decides afresh
    app = create_app(
        settings, s3=s3_of(aws), sqs=sqs_of(aws), ec2=pool_world.ec2, ssm=pool_world.ssm, awslambda=mapping.awslambda
    )
    client: FlaskClient = app.test_client()

    assert submit(client, samples.jpeg()).status_code == 202
    for body in (client.post("/v1/warm").get_json(), client.get("/v1/pool").get_json()):
        assert (body["tier"], body["serving"], body["enabled"]) == ("auto", "lambda", False)
    assert pool_world.instances() == [] and mapping.enabled()  # no DARKROOM_LAMBDA_FUNCTION: nothing invoked

    for _ in range(2):
        submit(client, samples.jpeg())  # the third waiting job reaches the backlog threshold
    assert mapping.enabled() and pool_world.instances() == []  # requests decide nothing: the timer does
    tick(app.extensions[EXTENSION_KEY])
    assert not mapping.enabled()
    assert len(pool_world.instances()) == 1
    body = client.get("/v1/pool").get_json()
    assert (body["tier"], body["serving"], body["enabled"]) == ("auto", "pool", True)
    forget_warm_limits(pool_world)
