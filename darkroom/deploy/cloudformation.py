"""Deploying infra/darkroom.yaml with CloudFormation, on AWS or into moto, and reading back what the API needs.

The template's parameters are made from darkroom's own settings objects
(``AwsSettings``, ``PoolSettings``), so the names in the stack, in the API's
environment and in the local stack come from one place. ``stack_env`` turns
the stack's outputs into the DARKROOM_* variables the API reads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError, WaiterError

from darkroom.deploy.spec import StackSpec
from jobs.aws import client_options
from jobs.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "darkroom.yaml"
# moto's CloudFormation accepts these types but does not apply them (DESIGN.md, checked in tests/deploy):
# the bucket policy is skipped, and the bucket's public access block and lifecycle rules are not set.
NOT_APPLIED_BY_MOTO = ("AWS::S3::BucketPolicy", "AWS::S3::Bucket PublicAccessBlockConfiguration/LifecycleConfiguration")

# stack output -> the API's variable (api/settings.py, pool/settings.py)
OUTPUT_VARIABLES = {
    "BucketName": "DARKROOM_BUCKET",
    "QueueName": "DARKROOM_QUEUE",
    "DeadLetterQueueName": "DARKROOM_DLQ",
    "LaunchTemplateName": "DARKROOM_LAUNCH_TEMPLATE",
    "AmiParameterName": "DARKROOM_AMI_PARAMETER",
    "PoolName": "DARKROOM_POOL",
    "InstanceTypes": "DARKROOM_INSTANCE_TYPES",
    "SubnetIds": "DARKROOM_SUBNETS",
    "MinWorkers": "DARKROOM_MIN_WORKERS",
    "KeepWarm": "DARKROOM_KEEP_WARM",
    "KeepWarmTimezone": "DARKROOM_KEEP_WARM_TZ",
    "Tier": "DARKROOM_TIER",
}
# only in a stack with the Lambda tier (--function-image)
FUNCTION_OUTPUT_VARIABLES = {
    "FunctionName": "DARKROOM_LAMBDA_FUNCTION",
    "EventSourceMappingId": "DARKROOM_LAMBDA_MAPPING",
}


class DeployError(RuntimeError):
    """CloudFormation refused the stack or it ended in a failed state; the text says which and why."""


def cloudformation_client(settings: AwsSettings) -> CloudFormationClient:
    return boto3.session.Session().client("cloudformation", **client_options(settings))


def deploy(
    cfn: CloudFormationClient, spec: StackSpec, template: Path = TEMPLATE, poll_seconds: float = 5.0
) -> dict[str, str]:
    """Create the stack, or update it when it exists; waits until done and returns its outputs.

    ``poll_seconds``: how often to ask CloudFormation; an emulator finishes at once.
    """
    request = {
        "StackName": spec.stack_name,
        "TemplateBody": template.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in spec.parameters().items()],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    try:
        if stack_exists(cfn, spec.stack_name):
            log.info("updating stack %s", spec.stack_name)
            cfn.update_stack(**request)  # type: ignore[arg-type]
            waiter = "stack_update_complete"
        else:
            log.info("creating stack %s", spec.stack_name)
            cfn.create_stack(**request, OnFailure="DELETE")  # type: ignore[arg-type]
            waiter = "stack_create_complete"
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            log.info("stack %s is already up to date", spec.stack_name)
            return stack_outputs(cfn, spec.stack_name)
        raise DeployError(f"CloudFormation refused stack {spec.stack_name}: {exc}") from exc
    wait(cfn, waiter, spec.stack_name, poll_seconds)
    return stack_outputs(cfn, spec.stack_name)


def wait(cfn: CloudFormationClient, waiter: str, stack_name: str, poll_seconds: float = 5.0) -> None:
    """Until the stack reaches the waiter's state (at most an hour)."""
    attempts = int(3600 / poll_seconds)
    try:
        cfn.get_waiter(waiter).wait(  # type: ignore[call-overload]
            StackName=stack_name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts}
        )
    except WaiterError as exc:
        raise DeployError(f"stack {stack_name}: {exc}; see its events in the CloudFormation console") from exc


def stack_exists(cfn: CloudFormationClient, stack_name: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)


def stack_outputs(cfn: CloudFormationClient, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {out["OutputKey"]: out["OutputValue"] for out in stack.get("Outputs", [])}


def stack_env(outputs: dict[str, str], region: str) -> dict[str, str]:
    """The DARKROOM_* variables that point an API (and its pool) at the deployed stack."""
    env = {variable: outputs[key] for key, variable in OUTPUT_VARIABLES.items()}
    env |= {variable: outputs[key] for key, variable in FUNCTION_OUTPUT_VARIABLES.items() if key in outputs}
    env["DARKROOM_REGION"] = region
    env["DARKROOM_POOL_ENABLED"] = "true"
    return env


def empty_bucket(s3: S3Client, bucket: str) -> int:
    """Delete every object (CloudFormation cannot delete a bucket that holds any); returns how many."""
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})  # type: ignore[typeddict-item]
            removed += len(keys)
    return removed


def teardown(cfn: CloudFormationClient, s3: S3Client, stack_name: str, poll_seconds: float = 5.0) -> None:
    """Empty the stack's bucket, then delete the stack and wait until it is gone."""
    if not stack_exists(cfn, stack_name):
        log.info("no stack %s: nothing to tear down", stack_name)
        return
    bucket = stack_outputs(cfn, stack_name).get("BucketName")
    if bucket:
        log.info("emptied bucket %s (%d objects)", bucket, empty_bucket(s3, bucket))
    cfn.delete_stack(StackName=stack_name)
    wait(cfn, "stack_delete_complete", stack_name, poll_seconds)
    log.info("deleted stack %s", stack_name)
