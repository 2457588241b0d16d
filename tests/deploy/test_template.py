"""infra/darkroom.yaml: one source of truth with darkroom's settings, and what the issue asks of each resource."""

from __future__ import annotations

import base64
import inspect
import re
from dataclasses import replace
from typing import Any

from darkroom.deploy.cloudformation import OUTPUT_VARIABLES
from darkroom.deploy.spec import EXPIRE_AFTER_DAYS, LEASE_SECONDS, MAX_RECEIVES, StackSpec
from darkroom.local.aws import create_resources
from darkroom.simulate.tables import load_defaults
from jobs.emf import NAMESPACE
from jobs.settings import AwsSettings
from pool.settings import EventSourceSettings, PoolSettings
from tests.deploy.conftest import ROOT
from worker.settings import WorkerSettings


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def default(template: dict[str, Any], name: str) -> str:
    return str(template["Parameters"][name].get("Default"))


def test_parameter_defaults_are_darkrooms_own_defaults(template: dict[str, Any]) -> None:
    aws, pool, worker = AwsSettings(), PoolSettings(), WorkerSettings()
    assert default(template, "QueueName") == aws.queue
    assert default(template, "DeadLetterQueueName") == aws.dead_letter_queue
    assert default(template, "LaunchTemplateName") == pool.launch_template
    assert default(template, "AmiParameterName") == pool.ami_parameter
    assert default(template, "PoolName") == pool.name
    assert default(template, "WorkerInstanceType") == pool.instance_types[0]
    assert default(template, "VisibilityTimeout") == str(LEASE_SECONDS) == str(worker.lease_seconds)
    assert default(template, "WorkerIdleSeconds") == str(int(worker.idle_seconds))
    assert default(template, "MaxReceiveCount") == str(MAX_RECEIVES)
    assert default(template, "ExpireAfterDays") == str(EXPIRE_AFTER_DAYS)
    mapping, spec = EventSourceSettings(), StackSpec(ami_id="ami-0123456789abcdef0", vpc_id="vpc-01234567")
    assert default(template, "Tier") == pool.tier
    assert default(template, "FunctionTimeout") == str(mapping.timeout_seconds)
    assert default(template, "MappingBatchSize") == str(mapping.batch_size)
    assert default(template, "MappingBatchingWindow") == str(mapping.batching_window_seconds)
    assert default(template, "MappingMaxConcurrency") == str(mapping.max_concurrency)
    assert default(template, "FunctionMemory") == str(spec.function_memory_mb)
    assert spec.function_memory_mb == load_defaults().value("lambda", "memory_mb")  # what the simulator prices
    assert default(template, "FunctionReservedConcurrency") == str(spec.function_reserved_concurrency)
    # SQS refuses a mapping whose function may outlive the queue's visibility timeout
    assert int(default(template, "FunctionTimeout")) <= int(default(template, "VisibilityTimeout"))
    assert mapping.max_concurrency <= spec.function_reserved_concurrency
    # the tests' and `darkroom up`'s directly made resources use the same numbers
    signature = inspect.signature(create_resources).parameters
    assert signature["visibility_timeout"].default == LEASE_SECONDS
    assert signature["max_receives"].default == MAX_RECEIVES


def test_the_deployer_sets_every_parameter(template: dict[str, Any]) -> None:
    assert set(StackSpec(ami_id="ami-0123456789abcdef0", vpc_id="vpc-01234567").parameters()) == set(
        template["Parameters"]
    )


def test_the_api_reads_every_output_it_needs(template: dict[str, Any]) -> None:
    assert set(OUTPUT_VARIABLES) <= set(template["Outputs"])
    sources = ("jobs/settings.py", "pool/settings.py", "jobs/keepwarm.py")
    settings_source = "".join((ROOT / source).read_text() for source in sources)
    for variable in OUTPUT_VARIABLES.values():
        assert f'"{variable}"' in settings_source, f"no setting reads {variable}"


def test_the_bucket_is_private_encrypted_tls_only_and_expires_job_objects(template: dict[str, Any]) -> None:
    (bucket,) = resources(template, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    expiring = {
        rule["Prefix"]: rule["ExpirationInDays"]
        for rule in props["LifecycleConfiguration"]["Rules"]
        if "ExpirationInDays" in rule
    }
    job_objects = {p: {"Ref": "ExpireAfterDays"} for p in ("uploads/", "results/", "status/")}
    assert expiring == {**job_objects, "incoming/": 1, "tickets/": 1, "sending/": 1, "pool/hours/": 3}
    (policy,) = resources(template, "AWS::S3::BucketPolicy").values()
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_queue_redrives_to_the_dead_letter_queue_with_a_lease_the_heartbeat_renews(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["JobQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": "DeadLetterQueue.Arn"},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    assert queue["VisibilityTimeout"] == {"Ref": "VisibilityTimeout"}
    worker = WorkerSettings.from_env({"DARKROOM_LEASE_SECONDS": default(template, "VisibilityTimeout")})
    assert worker.heartbeat_seconds * 2 < worker.lease_seconds  # a beat can be late once without losing the job


def test_the_launch_template_requires_imdsv2_has_no_public_ip_and_starts_nothing_secret(
    template: dict[str, Any],
) -> None:
    data = template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": "WorkerInstanceProfile.Arn"}}
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"  # the idle worker's poweroff ends it
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] == {"Ref": "AssociatePublicIp"}
    assert default(template, "AssociatePublicIp") == "false"
    assert data["ImageId"] == {"Fn::Sub": "resolve:ssm:${AmiParameterName}"}
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assigned = re.findall(r"^\s+([A-Z_]+)=", user_data, re.MULTILINE)
    assert assigned and all(name.startswith("DARKROOM_") for name in assigned)
    names_only = user_data.replace("DARKROOM_WEBHOOK_SECRET_PARAMETER", "")  # where the secret is, not the secret
    assert not re.search(r"SECRET|TOKEN|PASSWORD|ACCESS_KEY", names_only)
    worker_source = "".join(
        (ROOT / path).read_text()
        for path in ("worker/settings.py", "jobs/settings.py", "jobs/webhook.py", "jobs/keepwarm.py")
    )
    assert all(f'"{name}"' in worker_source for name in assigned), "user data sets a variable no setting reads"
    base64.b64encode(user_data.encode())  # plain text, as CloudFormation encodes it


def test_the_security_group_accepts_no_connections(template: dict[str, Any]) -> None:
    for group in resources(template, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]
    assert not resources(template, "AWS::EC2::SecurityGroupIngress")


def test_the_ami_parameter_is_an_image_parameter_the_api_reads(template: dict[str, Any]) -> None:
    parameter = template["Resources"]["WorkerAmiParameter"]["Properties"]
    assert parameter["Name"] == {"Ref": "AmiParameterName"}
    assert parameter["DataType"] == "aws:ec2:image"


def test_the_function_runs_the_worker_image_fed_by_the_job_queue_with_partial_batch_failures(
    template: dict[str, Any],
) -> None:
    lambda_tier = {"FunctionRole", "FunctionLogGroup", "Function", "FunctionEventSource", "FunctionWarmUpInvokeConfig"}
    assert {template["Resources"][name]["Condition"] for name in lambda_tier} == {"HasFunction"}  # no image: none
    function = template["Resources"]["Function"]["Properties"]
    assert function["PackageType"] == "Image" and function["Code"] == {"ImageUri": {"Ref": "FunctionImageUri"}}
    assert (function["MemorySize"], function["Timeout"]) == ({"Ref": "FunctionMemory"}, {"Ref": "FunctionTimeout"})
    assert function["ReservedConcurrentExecutions"] == {"Ref": "FunctionReservedConcurrency"}  # the cost cap
    assert function["Role"] == {"Fn::GetAtt": "FunctionRole.Arn"}
    env = function["Environment"]["Variables"]
    assert env["DARKROOM_IMDS_URL"] == "" and env["DARKROOM_LEASE_SECONDS"] == {"Ref": "VisibilityTimeout"}
    mapping = template["Resources"]["FunctionEventSource"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": "JobQueue.Arn"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MappingMaxConcurrency"}}
    # its dead-letter path is the job queue's own redrive, as for the spot workers
    assert "deadLetterTargetArn" in template["Resources"]["JobQueue"]["Properties"]["RedrivePolicy"]


def test_alarms_watch_the_dead_letter_queue_and_the_oldest_waiting_job(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    dead, oldest = resources["DeadLettersAlarm"]["Properties"], resources["OldestJobAlarm"]["Properties"]
    assert dead["Dimensions"][0]["Value"] == {"Fn::GetAtt": "DeadLetterQueue.QueueName"}
    assert (dead["MetricName"], dead["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert oldest["Dimensions"][0]["Value"] == {"Fn::GetAtt": "JobQueue.QueueName"}
    assert oldest["MetricName"] == "ApproximateAgeOfOldestMessage"


def test_the_daily_hours_alarm_watches_what_the_apis_timer_sends_at_90_percent_of_the_cap(
    template: dict[str, Any],
) -> None:
    alarm = template["Resources"]["InstanceHoursAlarm"]
    assert alarm["Condition"] == "HasInstanceHoursAlarm"  # no cap, no alarm
    watched = alarm["Properties"]
    assert (watched["Namespace"], watched["MetricName"]) == (NAMESPACE, "InstanceHoursToday")  # api/tick.py's line
    assert watched["Dimensions"] == [{"Name": "Pool", "Value": {"Ref": "PoolName"}}]
    assert watched["Threshold"] == {"Ref": "InstanceHoursAlarmAt"}
    spec = StackSpec(ami_id="ami-0123456789abcdef0", vpc_id="vpc-01234567")
    assert spec.parameters()["InstanceHoursAlarmAt"] == "0"
    capped = replace(spec, pool=replace(spec.pool, daily_instance_hours=10.0))
    assert capped.parameters()["InstanceHoursAlarmAt"] == "9"
