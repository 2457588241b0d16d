"""The IAM roles in infra/darkroom.yaml allow exactly the AWS calls each deployable's code makes.

The tables below say which deployable makes which boto3 call; a scan of the
source finds every call, so a new call with no row (or a row for a call that
is gone) fails here, and the template's actions must equal what the rows need.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jobs.ids import result_key, status_key, upload_key, webhook_key
from jobs.pool import worker_key
from pool.settings import PoolSettings
from tests.deploy.conftest import ROOT

JOB_ID = "0b6a2a5e-6d0a-4c5e-9a4e-2f1c3b5d7e90"

# the boto3 calls each deployable makes (the API runs api/ and pool/; jobs/ is shared: each side uses part of it)
API_CALLS = {
    "s3.put_object",  # uploads, status, pool slots and launch outcomes
    "s3.get_object",  # status, worker records, pool slots
    "s3.delete_object",  # a failed submit's upload and status, gone workers' records, freed slots
    "s3.list_objects_v2",  # worker records, pool slots
    "s3.head_bucket",  # /readyz
    "s3.generate_presigned_url",  # the result's short-lived GET (signed with the API's role)
    "s3.generate_presigned_post",  # a direct upload's form, to incoming/ (signed with the API's role)
    "s3.head_object",  # a direct upload's size
    "s3.copy_object",  # a checked direct upload, from incoming/ to uploads/
    "sqs.get_queue_url",
    "sqs.send_message",
    "sqs.get_queue_attributes",  # depth of the queue and the dead-letter queue
    "ssm.get_parameter",  # the worker AMI id, at each launch
    "ec2.create_fleet",
    "ec2.describe_instances",
    "ec2.terminate_instances",
    "awslambda.get_event_source_mapping",  # DARKROOM_TIER=auto: which tier serves
    "awslambda.update_event_source_mapping",  # DARKROOM_TIER=auto: switching it
    "awslambda.invoke",  # the page's pre-warm with the Lambda tier serving
}
WORKER_CALLS = {
    "s3.get_object",  # uploads, status
    "s3.put_object",  # results, status, its worker record
    "s3.head_object",  # an s3:// model's ETag
    "s3.download_file",  # an s3:// model
    "sqs.get_queue_url",
    "sqs.get_queue_attributes",  # the redrive policy's maxReceiveCount
    "sqs.receive_message",  # the queue, and the dead-letter sweep
    "sqs.delete_message",
    "sqs.change_message_visibility",  # heartbeat, hand-back, holding swept dead letters
    "ssm.get_parameter",  # the webhook secret, a SecureString, at start
    "s3.list_objects_v2",  # owed callbacks (webhooks/)
    "s3.delete_object",  # a callback's outbox entry once its outcome is recorded
}
IAM_ACTIONS = {
    "s3.put_object": {"s3:PutObject"},
    "s3.get_object": {"s3:GetObject"},
    "s3.head_object": {"s3:GetObject"},
    "s3.download_file": {"s3:GetObject"},
    "s3.generate_presigned_url": {"s3:GetObject"},
    "s3.generate_presigned_post": {"s3:PutObject"},
    "s3.copy_object": {"s3:GetObject", "s3:PutObject"},
    "s3.delete_object": {"s3:DeleteObject"},
    "s3.list_objects_v2": {"s3:ListBucket"},
    "s3.head_bucket": {"s3:ListBucket"},
    "sqs.get_queue_url": {"sqs:GetQueueUrl"},
    "sqs.send_message": {"sqs:SendMessage"},
    "sqs.get_queue_attributes": {"sqs:GetQueueAttributes"},
    "sqs.receive_message": {"sqs:ReceiveMessage"},
    "sqs.delete_message": {"sqs:DeleteMessage"},
    "sqs.change_message_visibility": {"sqs:ChangeMessageVisibility"},
    "ssm.get_parameter": {"ssm:GetParameter"},
    # an EC2 Fleet launch is authorised as the fleet, its instances and their tags, and the role it passes
    "ec2.create_fleet": {"ec2:CreateFleet", "ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"},
    "ec2.describe_instances": {"ec2:DescribeInstances"},
    "ec2.terminate_instances": {"ec2:TerminateInstances"},
    "awslambda.get_event_source_mapping": {"lambda:GetEventSourceMapping"},
    "awslambda.update_event_source_mapping": {"lambda:UpdateEventSourceMapping"},
    "awslambda.invoke": {"lambda:InvokeFunction"},
}
# the Lambda tier runs the worker's code (worker/function.py): the same calls but one, the worker record
FUNCTION_CALLS = WORKER_CALLS
LAMBDA_RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}  # Lambda writes the function's logs
CALL = re.compile(r"\b(s3|sqs|ssm|ec2|awslambda)\.(?!get_paginator)([a-z_0-9]+)\(")
PAGINATED = re.compile(r"\b(s3|sqs|ssm|ec2)\.get_paginator\(\"([a-z_0-9]+)\"\)")


def calls_in(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        text = path.read_text()
        found |= {f"{client}.{method}" for client, method in CALL.findall(text)}
        found |= {f"{client}.{method}" for client, method in PAGINATED.findall(text)}
    return found


def policy_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The role's inline policies' statements, and those of AWS::IAM::Policy resources attached to it."""
    resources = template["Resources"]
    policies = [policy["PolicyDocument"] for policy in resources[role]["Properties"]["Policies"]]
    policies += [
        each["Properties"]["PolicyDocument"]
        for each in resources.values()
        if each["Type"] == "AWS::IAM::Policy" and {"Ref": role} in each["Properties"]["Roles"]
    ]
    return [statement for policy in policies for statement in policy["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(template: dict[str, Any], role: str) -> set[str]:
    return {action for st in policy_statements(template, role) for action in as_list(st["Action"])}


def test_the_tables_list_every_call_the_code_makes() -> None:
    assert calls_in("api") | calls_in("pool") <= API_CALLS, "a call in api/ or pool/ has no row in API_CALLS"
    assert calls_in("worker") <= WORKER_CALLS, "a call in worker/ has no row in WORKER_CALLS"
    assert calls_in("jobs") <= API_CALLS | WORKER_CALLS, "a call in jobs/ is in neither table"
    made = calls_in("api") | calls_in("pool") | calls_in("worker") | calls_in("jobs")
    assert made >= API_CALLS | WORKER_CALLS, "a row names a call the code no longer makes"


@pytest.mark.parametrize(
    ("role", "calls"), [("ApiRole", API_CALLS), ("WorkerRole", WORKER_CALLS), ("FunctionRole", FUNCTION_CALLS)]
)
def test_each_role_allows_exactly_the_actions_its_calls_need(
    template: dict[str, Any], role: str, calls: set[str]
) -> None:
    needed = {action for call in calls for action in IAM_ACTIONS[call]}
    assert actions(template, role) - LAMBDA_RUNTIME_ACTIONS == needed


def test_the_function_writes_no_worker_record_and_only_its_own_logs(template: dict[str, Any]) -> None:
    """It keeps its record in memory (worker/function.py): results, status, owed callbacks and dead letters."""
    written = {result_key(JOB_ID), status_key(JOB_ID), webhook_key(JOB_ID)}
    granted = s3_prefixes(template, "FunctionRole", "s3:PutObject")
    assert granted == {key.split("/")[0] + "/" for key in written} | {"dead-letters/"}  # its sweep's records
    assert s3_prefixes(template, "FunctionRole", "s3:GetObject") == s3_prefixes(template, "WorkerRole", "s3:GetObject")
    (logs,) = [st for st in policy_statements(template, "FunctionRole") if st["Sid"] == "WriteItsOwnLogs"]
    assert logs["Resource"] == {"Fn::GetAtt": "FunctionLogGroup.Arn"}


@pytest.mark.parametrize("role", ["ApiRole", "WorkerRole", "FunctionRole"])
def test_no_wildcard_actions_and_allow_only(template: dict[str, Any], role: str) -> None:
    for statement in policy_statements(template, role):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in as_list(statement["Action"])), statement["Sid"]
        if as_list(statement["Resource"]) == ["*"]:  # only where AWS has no resource-level permissions
            assert as_list(statement["Action"]) == ["ec2:DescribeInstances"], statement["Sid"]


def s3_prefixes(template: dict[str, Any], role: str, action: str) -> set[str]:
    """The key prefixes a role's statements grant ``action`` on (from ``${JobBucket.Arn}/prefix/*``)."""
    prefixes = set()
    for statement in policy_statements(template, role):
        if action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                arn = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                prefixes.add(arn.removeprefix("${JobBucket.Arn}/").removesuffix("*"))
    return prefixes


def test_the_worker_writes_only_results_status_and_its_record(template: dict[str, Any]) -> None:
    written = {result_key(JOB_ID), status_key(JOB_ID), worker_key("i-0123456789abcdef0"), webhook_key(JOB_ID)}
    granted = s3_prefixes(template, "WorkerRole", "s3:PutObject")
    assert {key.split("/")[0] + "/" for key in written} | {"dead-letters/"} == granted  # jobs/dead_letters.py
    assert s3_prefixes(template, "WorkerRole", "s3:GetObject") == {
        upload_key(JOB_ID, "dng").split("/")[0] + "/",
        "status/",
        "models/",  # DARKROOM_RAW_MODEL=s3://<the bucket>/models/...
        "webhooks/",
        "dead-letters/",  # a sweep refreshes its record's receipt
    }
    assert s3_prefixes(template, "WorkerRole", "s3:DeleteObject") == {"webhooks/"}


def test_the_worker_reads_only_the_webhook_secret_and_the_user_data_names_it(template: dict[str, Any]) -> None:
    statements = {st["Sid"]: st for st in policy_statements(template, "WorkerRole")}
    secret = statements["ReadTheWebhookSecret"]
    assert secret["Action"] == "ssm:GetParameter" and secret["Resource"]["Fn::Sub"].endswith(
        ":parameter${WebhookSecretParameterName}"
    )
    data = template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "DARKROOM_WEBHOOK_SECRET_PARAMETER=${WebhookSecretParameterName}" in user_data
    assert "DARKROOM_WEBHOOK_SECRET=" not in user_data  # a name, never the secret


def test_the_api_launches_only_from_its_template_and_passes_only_the_worker_role(template: dict[str, Any]) -> None:
    statements = {st["Sid"]: st for st in policy_statements(template, "ApiRole")}
    template_arn = statements["LaunchFromTheTemplateOnly"]["Resource"]["Fn::Sub"]
    assert template_arn.endswith(":launch-template/${WorkerLaunchTemplate}")
    for sid in ("LaunchedResourcesComeFromTheTemplate", "LaunchOnlyThePoolsTypesTaggedWithThePool"):
        assert statements[sid]["Condition"]["ArnLike"]["ec2:LaunchTemplate"]["Fn::Sub"] == template_arn
    passing = statements["PassOnlyTheWorkerRole"]
    assert passing["Resource"] == {"Fn::GetAtt": "WorkerRole.Arn"}
    assert passing["Condition"]["StringEquals"]["iam:PassedToService"] == "ec2.amazonaws.com"
    terminate = statements["TerminateOnlyThisPool"]["Condition"]["StringEquals"]
    assert terminate == {"aws:ResourceTag/darkroom:pool": {"Ref": "PoolName"}}
    assert statements["TagAtLaunchOnly"]["Condition"]["StringEquals"]["ec2:CreateAction"] == [
        "CreateFleet",
        "RunInstances",
    ]


LAUNCH_ACTIONS = {"ec2:CreateFleet", "ec2:RunInstances"}
# what each kind of resource a launch names must be conditioned on, and the value it must equal
LAUNCH_CONDITIONS = {
    "instance": {
        "ec2:InstanceType": {"Ref": "InstanceTypes"},
        "aws:RequestTag/darkroom:pool": {"Ref": "PoolName"},
    },
    "subnet": {"ec2:SubnetID": {"Ref": "SubnetIds"}},
    "image": {"ec2:Owner": {"Ref": "AWS::AccountId"}},
}
# a spot request is made only with an instance, which meets every condition above; none is pinned for it
UNCONDITIONED_KINDS = {"spot-instances-request"}


def resource_kind(resource: Any) -> tuple[str, bool]:
    """``(kind, pinned)`` of a resource ARN: ``instance`` and False for ``...:instance/*``."""
    arn = resource["Fn::Sub"] if isinstance(resource, dict) else resource
    kind, _, name = arn.rsplit(":", 1)[1].partition("/")
    return kind, "*" not in name


def test_every_launch_permission_is_conditioned(template: dict[str, Any]) -> None:
    """With the API's credentials, CreateFleet or RunInstances can change no type, subnet or image, nor drop the tag."""
    seen = set()
    for statement in policy_statements(template, "ApiRole"):
        if not LAUNCH_ACTIONS & set(as_list(statement["Action"])):
            continue
        for resource in as_list(statement["Resource"]):
            kind, pinned = resource_kind(resource)
            if pinned or kind in UNCONDITIONED_KINDS:
                continue
            assert "Condition" in statement, f"{statement['Sid']} lets a launch use any {kind}"
            needed = LAUNCH_CONDITIONS.get(kind, {})
            assert needed.items() <= statement["Condition"].get("StringEquals", {}).items(), (statement["Sid"], kind)
            seen.add(kind)
    assert set(LAUNCH_CONDITIONS) <= seen


def test_the_conditions_name_the_pools_own_types_and_the_stacks_subnets(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["InstanceTypes"]["Default"].split(",") == list(PoolSettings().instance_types)
    assert parameters["WorkerInstanceType"]["Default"] in parameters["InstanceTypes"]["Default"].split(",")
    assert parameters["SubnetIds"]["Type"] == "CommaDelimitedList" and "Default" not in parameters["SubnetIds"]
    outputs = template["Outputs"]  # the API launches exactly what the role allows: it reads both from the stack
    assert outputs["InstanceTypes"]["Value"] == {"Fn::Join": [",", {"Ref": "InstanceTypes"}]}
    assert outputs["SubnetIds"]["Value"] == {"Fn::Join": [",", {"Ref": "SubnetIds"}]}


def test_the_source_scan_sees_a_call(tmp_path: Path) -> None:
    """The pattern itself: a call through ``self.`` and a paginator are both found."""
    text = 'self.sqs.send_message(QueueUrl=u)\npages = self.s3.get_paginator("list_objects_v2")\n'
    found = {f"{c}.{m}" for c, m in CALL.findall(text)} | {f"{c}.{m}" for c, m in PAGINATED.findall(text)}
    assert found == {"sqs.send_message", "s3.list_objects_v2"}


def test_the_api_switches_only_its_mapping_and_invokes_only_its_function(template: dict[str, Any]) -> None:
    """DARKROOM_TIER=auto and the page's pre-warm: least privilege, and only in a stack whose Tier uses each."""
    resources, conditions = template["Resources"], template["Conditions"]
    warm_policy, switch_policy = resources["ApiLambdaTierPolicy"], resources["ApiTierSwitchPolicy"]
    # the pre-warm with Tier lambda or auto (MappingStartsEnabled), the switch with auto alone
    assert warm_policy["Condition"] == "ServesWithFunction"
    assert conditions["ServesWithFunction"] == {
        "Fn::And": [{"Fn::Condition": "HasFunction"}, {"Fn::Condition": "MappingStartsEnabled"}]
    }
    assert conditions["MappingStartsEnabled"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Tier"}, "pool"]}]}
    assert switch_policy["Condition"] == "SwitchesTiers"
    assert conditions["SwitchesTiers"] == {
        "Fn::And": [{"Fn::Condition": "HasFunction"}, {"Fn::Equals": [{"Ref": "Tier"}, "auto"]}]
    }
    (warm,) = warm_policy["Properties"]["PolicyDocument"]["Statement"]
    assert warm == {
        "Sid": "WarmTheFunction",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": {"Fn::GetAtt": "Function.Arn"},
    }
    statements = {st["Sid"]: st for st in switch_policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ReadTheEventSourceMapping", "SwitchTheEventSourceMapping"}
    read, switch = statements["ReadTheEventSourceMapping"], statements["SwitchTheEventSourceMapping"]
    assert read["Action"] == "lambda:GetEventSourceMapping" and switch["Action"] == "lambda:UpdateEventSourceMapping"
    for statement in (read, switch):
        assert statement["Resource"]["Fn::Sub"].endswith(":event-source-mapping:${FunctionEventSource}")
    switching = {read["Action"], switch["Action"]}
    # the update may not point the mapping at another function (lambda:FunctionArn: the function it invokes)
    assert switch["Condition"] == {"ArnLike": {"lambda:FunctionArn": {"Fn::GetAtt": "Function.Arn"}}}
    # nowhere else, under any condition: no other policy resource, and no role's own inline policies
    documents = {
        name: [each["Properties"]["PolicyDocument"]]
        if each["Type"] == "AWS::IAM::Policy"
        else [inline["PolicyDocument"] for inline in each["Properties"]["Policies"]]
        for name, each in resources.items()
        if each["Type"] == "AWS::IAM::Policy" or (each["Type"] == "AWS::IAM::Role" and "Policies" in each["Properties"])
    }
    for name, policies in documents.items():
        granted = {a for doc in policies for st in doc["Statement"] for a in as_list(st["Action"])}
        lambda_actions = {a for a in granted if a.startswith("lambda:")}
        expected = {"ApiLambdaTierPolicy": {"lambda:InvokeFunction"}, "ApiTierSwitchPolicy": switching}
        assert lambda_actions == expected.get(name, set()), name
    outputs = template["Outputs"]  # the API reads the two names from the stack (darkroom deploy prints them)
    assert outputs["EventSourceMappingId"]["Description"] == "DARKROOM_LAMBDA_MAPPING"
    assert outputs["FunctionName"]["Description"] == "DARKROOM_LAMBDA_FUNCTION"


def test_a_throttled_warm_up_is_dropped_not_retried(template: dict[str, Any]) -> None:
    """Warm-ups are the function's only asynchronous invokes; Lambda would retry a throttled one for 6 hours."""
    (config,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert config["Condition"] == template["Resources"]["Function"]["Condition"] == "HasFunction"
    assert config["Properties"] == {
        "FunctionName": {"Ref": "Function"},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 60,
    }
