"""infra/darkroom.yaml deployed into moto through CloudFormation, then used as the API and a worker use it."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from darkroom.deploy.cloudformation import cloudformation_client, stack_env, stack_exists, stack_outputs, teardown
from darkroom.local.aws import EMULATOR_POLL_SECONDS, PoolResources, deploy_template
from jobs.aws import ec2_client, s3_client, sqs_client, ssm_client
from jobs.ids import result_key
from jobs.message import InputKind
from jobs.queue import JobQueue
from jobs.settings import AwsSettings
from jobs.status import JobState
from jobs.store import JobStore
from jobs.submit import submit_job
from pool.ec2 import Ec2Pool
from pool.settings import PoolSettings
from worker.baseline import Baseline
from worker.loop import Worker
from worker.settings import WorkerSettings

pytestmark = pytest.mark.slow


def dark_jpeg() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 16, size=(96, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def deployed(moto_url: str) -> Iterator[tuple[str, PoolResources, dict[str, str]]]:
    """A stack of this module's own (moto's state is shared by every test in the process)."""
    suffix = uuid.uuid4().hex[:8]
    aws = AwsSettings(
        endpoint_url=moto_url,
        bucket=f"darkroom-cfn-{suffix}",
        queue=f"jobs-{suffix}",
        dead_letter_queue=f"dlq-{suffix}",
    )
    pool = PoolSettings(name=f"pool-{suffix}", launch_template=f"worker-{suffix}", ami_parameter=f"/dr-{suffix}/ami")
    stack = f"darkroom-{suffix}"
    created = deploy_template(aws, pool, stack, lease_seconds=30, max_receives=2)
    env = {**stack_env(stack_outputs(cloudformation_client(aws), stack), aws.region)}
    env["DARKROOM_AWS_ENDPOINT_URL"] = moto_url
    yield stack, created, env
    # teardown is tested here: by now the bucket holds the end-to-end job's upload, result and status
    assert s3_client(aws).list_objects_v2(Bucket=aws.bucket).get("KeyCount", 0) > 0
    cfn = cloudformation_client(aws)
    teardown(cfn, s3_client(aws), stack, poll_seconds=EMULATOR_POLL_SECONDS)
    assert not stack_exists(cfn, stack)
    with pytest.raises(ClientError):
        s3_client(aws).head_bucket(Bucket=aws.bucket)


def test_the_stack_made_what_the_template_declares(deployed: tuple[str, PoolResources, dict[str, str]]) -> None:
    _, created, env = deployed
    aws = AwsSettings.from_env(env)
    sqs = sqs_client(aws)
    attrs = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=aws.queue)["QueueUrl"], AttributeNames=["All"]
    )
    assert attrs["Attributes"]["VisibilityTimeout"] == "30"
    assert JobQueue.named(sqs, aws.queue).max_receives() == 2
    data = ec2_client(aws).describe_launch_template_versions(LaunchTemplateName=created.launch_template)[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["IamInstanceProfile"]["Arn"].startswith("arn:aws:iam::")
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    assert ssm_client(aws).get_parameter(Name=created.ami_parameter)["Parameter"]["Value"] == created.ami_id
    s3 = s3_client(aws)
    assert s3.get_bucket_encryption(Bucket=aws.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    with pytest.raises(
        ClientError, match="NoSuchBucketPolicy"
    ):  # moto skips AWS::S3::BucketPolicy (NOT_APPLIED_BY_MOTO)
        s3.get_bucket_policy(Bucket=aws.bucket)


def test_one_job_end_to_end_on_the_stacks_resources(deployed: tuple[str, PoolResources, dict[str, str]]) -> None:
    """The API's side submits with settings read from the stack's outputs; a worker takes the job and finishes it."""
    _, _, env = deployed
    aws = AwsSettings.from_env(env)
    store, sqs = JobStore(s3_client(aws), aws.bucket), sqs_client(aws)
    queue, dead_letters = JobQueue.named(sqs, aws.queue), JobQueue.named(sqs, aws.dead_letter_queue)
    job_id = submit_job(store, queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, None).job_id
    settings = WorkerSettings(aws=aws, worker_id="cfn-worker", wait_seconds=1, lease_seconds=30, imds_url="")
    Worker(settings, store, queue, dead_letters, Baseline()).run(max_jobs=1)
    status = store.read_status(job_id)
    assert status is not None and status.state is JobState.DONE, status
    result = store.get(result_key(job_id))
    assert result is not None and Image.open(io.BytesIO(result)).size == (128, 96)


def test_the_api_launches_a_worker_from_the_stacks_template(
    deployed: tuple[str, PoolResources, dict[str, str]],
) -> None:
    _, created, env = deployed
    aws = AwsSettings.from_env(env)
    assert PoolSettings.from_env(env).subnets == created.subnets  # the stack names the only subnets it allows
    assert PoolSettings.from_env(env).instance_types == PoolSettings().instance_types  # and the only types
    pool = PoolSettings.from_env({**env, "DARKROOM_SUBNETS": ",".join(created.subnets[:1])})
    launcher = Ec2Pool(ec2_client(aws), ssm_client(aws), pool)
    (launched,) = launcher.launch(1)
    (instance,) = [i for i in launcher.instances() if i.live]
    assert instance.instance_id == launched.instance_id
    described = ec2_client(aws).describe_instances(InstanceIds=[instance.instance_id])["Reservations"][0]
    assert described["Instances"][0]["ImageId"] == created.ami_id  # the id the launcher read from SSM
    launcher.terminate([instance])
