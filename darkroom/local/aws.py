"""Local AWS: a moto server on loopback and the resources the system needs.

Used by ``darkroom up`` and by the tests' fixtures, so both run against the
same emulator set up the same way: the bucket and queues, and for the spot
pool the worker AMI, its SSM parameter and the launch template.

Two ways to make them, from the same names and settings: ``deploy_template``
deploys infra/darkroom.yaml through moto's CloudFormation (``darkroom up``,
docker-compose); ``create_resources`` and ``create_pool_resources`` call the
services directly, in milliseconds, for the tests' per-test resources.

moto's CloudFormation skips AWS::S3::BucketPolicy and does not apply a
bucket's PublicAccessBlockConfiguration or LifecycleConfiguration (see
darkroom.deploy.cloudformation.NOT_APPLIED_BY_MOTO).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

from darkroom.deploy.cloudformation import cloudformation_client, deploy
from darkroom.deploy.spec import LEASE_SECONDS, MAX_RECEIVES, StackSpec
from jobs.aws import client_options, ec2_client, lambda_client, s3_client, sqs_client, ssm_client
from jobs.settings import AwsSettings
from pool.settings import PoolSettings

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import RequestLaunchTemplateDataTypeDef, TagTypeDef

# moto accepts any credentials; real ones must never reach it.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "darkroom-local", "AWS_SECRET_ACCESS_KEY": "darkroom-local"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def use_emulator_credentials() -> None:
    """Point this process's boto3 at fake credentials (moto checks none)."""
    os.environ.update(EMULATOR_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def start_moto(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """Start moto in server mode on loopback; returns the server and its URL."""
    from moto.server import ThreadedMotoServer  # here: the compose setup container deploys without moto installed

    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


EMULATOR_POLL_SECONDS = 0.1  # moto's CloudFormation finishes a stack within the call that starts it
LAUNCH_TEMPLATE = PoolSettings.launch_template  # the names the API uses by default, and the template's
AMI_PARAMETER = PoolSettings.ami_parameter
AMI_NAME = "darkroom-worker"  # what the Packer build would name its image


@dataclass(frozen=True)
class PoolResources:
    """What the spot pool launches from, as created in the emulator."""

    launch_template: str
    ami_parameter: str
    ami_id: str
    subnets: tuple[str, ...]  # the default VPC's, one per availability zone


def deploy_template(
    settings: AwsSettings,
    pool: PoolSettings | None = None,
    stack_name: str = "darkroom",
    lease_seconds: int = LEASE_SECONDS,
    max_receives: int = MAX_RECEIVES,
) -> PoolResources:
    """Every resource, made by deploying infra/darkroom.yaml into the emulator through CloudFormation.

    The stack needs an AMI id and a VPC: a registered image stands in for the
    Packer build, and the emulator's default VPC for the user's.
    """
    pool = pool or PoolSettings()
    ec2 = ec2_client(settings)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    spec = StackSpec(
        ami_id=worker_ami(ec2),
        vpc_id=vpcs[0]["VpcId"],
        subnets=default_subnets(ec2),
        stack_name=stack_name,
        aws=settings,
        pool=pool,
        lease_seconds=lease_seconds,
        max_receives=max_receives,
    )
    outputs = deploy(cloudformation_client(settings), spec, poll_seconds=EMULATOR_POLL_SECONDS)
    return PoolResources(outputs["LaunchTemplateName"], outputs["AmiParameterName"], spec.ami_id, spec.subnets)


def create_resources(
    settings: AwsSettings, visibility_timeout: int = LEASE_SECONDS, max_receives: int = MAX_RECEIVES
) -> None:
    """The bucket, the job queue and its dead-letter queue, as infra/ declares them."""
    s3 = s3_client(settings)
    s3.create_bucket(Bucket=settings.bucket)
    s3.put_public_access_block(
        Bucket=settings.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    sqs = sqs_client(settings)
    dlq_url = sqs.create_queue(
        QueueName=settings.dead_letter_queue, Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName=settings.queue,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        },
    )


def create_pool_resources(
    settings: AwsSettings, launch_template: str = LAUNCH_TEMPLATE, ami_parameter: str = AMI_PARAMETER
) -> PoolResources:
    """The worker AMI, the SSM parameter naming it and the launch template.

    Apart from ``create_resources`` because only a pool needs them, and every
    test that wants a bucket and a queue would pay for two more clients.
    Idempotent: moto's state is shared by every server in a process, so the
    tests' stacks and fixtures find what an earlier one made and reuse it.
    """
    ec2 = ec2_client(settings)
    ami_id = worker_ami(ec2)
    ssm_client(settings).put_parameter(
        Name=ami_parameter, Value=ami_id, Type="String", DataType="aws:ec2:image", Overwrite=True
    )
    if not ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [launch_template]}])[
        "LaunchTemplates"
    ]:
        ec2.create_launch_template(
            LaunchTemplateName=launch_template,
            LaunchTemplateData=worker_template_data(ami_parameter),
            TagSpecifications=[
                {"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": launch_template}]}
            ],
        )
    return PoolResources(launch_template, ami_parameter, ami_id, default_subnets(ec2))


def worker_ami(ec2: EC2Client) -> str:
    """The id of the image a Packer build would have registered (made here once)."""
    found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [AMI_NAME]}])["Images"]
    if found:
        return found[0]["ImageId"]
    return ec2.register_image(
        Name=AMI_NAME,
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 60, "VolumeType": "gp3"}}],
    )["ImageId"]


def worker_template_data(ami_parameter: str) -> RequestLaunchTemplateDataTypeDef:
    """The launch template as infra/ would declare it.

    The image is EC2's own ``resolve:ssm:`` reference, resolved at each launch
    on AWS (moto leaves it as text: the launcher passes the ImageId it read
    from the parameter). IMDSv2 only; the hop limit of 2 lets a container on
    the instance reach it. Shutting down from inside (the idle worker's
    poweroff) terminates the instance. No public address: workers reach S3
    and SQS through the VPC.
    """
    tags: list[TagTypeDef] = [{"Key": "Name", "Value": "darkroom-worker"}, {"Key": "darkroom:role", "Value": "worker"}]
    return {
        "ImageId": f"resolve:ssm:{ami_parameter}",
        "InstanceType": "g6.xlarge",
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": False, "DeleteOnTermination": True}],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
    }


def default_subnets(ec2: EC2Client) -> tuple[str, ...]:
    """The default VPC's subnets, in availability-zone order."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return ()
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    return tuple(s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"]))


def create_function_switch(settings: AwsSettings, name: str, enabled: bool = True) -> str:
    """The Lambda tier's function and event source mapping in the emulator; returns the mapping's UUID.

    What ``DARKROOM_TIER=auto`` turns on and off (pool/switch.py), and what the
    local event source mapping obeys: the same calls on the same kind of
    record as on AWS. Only its source differs. moto cannot run the function
    without Docker, and an enabled mapping makes moto's SQS receive each
    message sent to its queue and try to invoke the function (SendMessage then
    fails with a 500), so the mapping reads a queue of its own that nothing
    sends to; the local poller (darkroom/local/event_source.py) carries the
    jobs from the job queue to the handler while the mapping is enabled.
    """
    options = client_options(settings)
    iam = boto3.session.Session().client("iam", **options)
    role = iam.create_role(RoleName=f"{name}-function", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    awslambda = lambda_client(settings)
    awslambda.create_function(
        FunctionName=name,
        Role=role["Role"]["Arn"],
        PackageType="Image",
        Code={"ImageUri": f"{role['Role']['Arn'].split(':')[4]}.dkr.ecr.{settings.region}.amazonaws.com/{name}:local"},
    )
    sqs = sqs_client(settings)
    source = sqs.create_queue(QueueName=f"{name}-switch")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = awslambda.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=enabled)
    return mapping["UUID"]


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
