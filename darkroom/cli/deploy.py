"""``darkroom deploy ...`` and ``darkroom ami build``: the AWS side (docs/deploy.md).

Region and endpoint come from DARKROOM_REGION (else AWS_DEFAULT_REGION) and
DARKROOM_AWS_ENDPOINT_URL, as everywhere in darkroom; credentials from the
usual AWS chain. ``python -m darkroom.cli.deploy local`` is docker-compose's
one-shot setup: it deploys the template into the moto container.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from darkroom.cli.commands import Commands, add_command
from darkroom.deploy.spec import StackSpec
from jobs.settings import AwsSettings
from pool.settings import EventSourceSettings, PoolSettings

# darkroom.deploy.cloudformation loads boto3: each command imports it when it runs, so `darkroom --help` stays quick.

log = logging.getLogger(__name__)


def aws_settings() -> AwsSettings:
    return AwsSettings.from_env(os.environ)


def cmd_deploy_up(args: argparse.Namespace) -> int:
    """Create or update the CloudFormation stack (infra/darkroom.yaml); print what the API needs."""
    from darkroom.deploy.cloudformation import DeployError, cloudformation_client, deploy, stack_env

    aws = aws_settings()
    if args.bucket:
        aws = replace(aws, bucket=args.bucket)
    spec = StackSpec(
        ami_id=args.ami_id,
        vpc_id=args.vpc_id,
        subnets=tuple(subnet.strip() for subnet in args.subnet_ids.split(",") if subnet.strip()),
        stack_name=args.stack,
        aws=aws,
        pool=PoolSettings.from_env(os.environ),
        expire_after_days=args.expire_days,
        public_ip=args.public_ip,
        generated_bucket_name=not args.bucket,
        function_image=args.function_image,
        mapping=EventSourceSettings.from_env(os.environ),
    )
    try:
        outputs = deploy(cloudformation_client(aws), spec)
    except DeployError as exc:
        log.error("%s", exc)
        return 1
    print_env(stack_env(outputs, aws.region))
    return 0


def cmd_deploy_env(args: argparse.Namespace) -> int:
    """Print the DARKROOM_* variables that point an API at the deployed stack (eval-able)."""
    from botocore.exceptions import ClientError

    from darkroom.deploy.cloudformation import cloudformation_client, stack_env, stack_outputs

    aws = aws_settings()
    try:
        outputs = stack_outputs(cloudformation_client(aws), args.stack)
    except ClientError as exc:
        log.error("cannot read stack %s: %s", args.stack, exc)
        return 1
    print_env(stack_env(outputs, aws.region))
    return 0


def cmd_deploy_down(args: argparse.Namespace) -> int:
    """Empty the bucket (every photo, result and status is deleted) and delete the stack."""
    from darkroom.deploy.cloudformation import DeployError, cloudformation_client, teardown
    from jobs.aws import s3_client

    aws = aws_settings()
    if not args.yes:
        print(f"this deletes stack {args.stack} and every object in its bucket; add --yes", file=sys.stderr)
        return 2
    try:
        teardown(cloudformation_client(aws), s3_client(aws), args.stack)
    except DeployError as exc:
        log.error("%s", exc)
        return 1
    return 0


def cmd_deploy_local(args: argparse.Namespace) -> int:
    """Deploy the template into an AWS emulator (DARKROOM_AWS_ENDPOINT_URL), as docker-compose's setup does."""
    from darkroom.local.aws import deploy_template

    aws = aws_settings()
    if not aws.endpoint_url:
        log.error("DARKROOM_AWS_ENDPOINT_URL is not set: `local` deploys into an emulator only")
        return 2
    created = deploy_template(aws, PoolSettings.from_env(os.environ), args.stack)
    log.info("deployed %s into %s: launch template %s", args.stack, aws.endpoint_url, created.launch_template)
    return 0


def cmd_ami_build(args: argparse.Namespace) -> int:
    """Build the worker AMI with Packer, then write its id to the SSM parameter the API launches from."""
    from darkroom.deploy.ami import (
        MANIFEST,
        enable_fast_snapshot_restore,
        git_commit,
        publish_ami,
        read_manifest,
        run_packer,
    )
    from jobs.aws import ec2_client, ssm_client

    aws = aws_settings()
    if not (args.worker_image or args.publish_only):
        log.error("--worker-image is required to build (or --publish-only to publish the last build)")
        return 2
    manifest = args.manifest or MANIFEST
    try:
        if not args.publish_only:
            commit = git_commit()
            run_packer({"region": aws.region, "worker_image": args.worker_image, "git_commit": commit}, args.packer)
        build = read_manifest(manifest, aws.region)
        publish_ami(ssm_client(aws), args.parameter, build)
        if args.fast_snapshot_restore:
            enable_fast_snapshot_restore(ec2_client(aws), build.ami_id, args.fast_snapshot_restore)
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError) as exc:
        log.error("AMI build failed: %s", exc)
        return 1
    print(build.ami_id)
    return 0


def print_env(env: dict[str, str]) -> None:
    for name, value in sorted(env.items()):
        print(f"export {name}={value}")


def register(commands: Commands) -> None:
    deploy = commands.add_parser("deploy", help="deploy darkroom's AWS resources with CloudFormation")
    actions = deploy.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = add_command(actions, "up", cmd_deploy_up)
    up.add_argument("--ami-id", required=True, help="the worker AMI (what `darkroom ami build` printed)")
    up.add_argument("--vpc-id", required=True, help="the VPC the workers run in")
    up.add_argument(
        "--subnet-ids", required=True, help="the VPC's subnets workers launch in, comma-separated (the only ones)"
    )
    up.add_argument("--bucket", default="", help="bucket name (default: darkroom-ACCOUNT-REGION)")
    up.add_argument(
        "--expire-days",
        type=int,
        default=StackSpec.expire_after_days,
        help="delete photos and results after (default: %(default)s)",
    )
    up.add_argument("--public-ip", action="store_true", help="give workers public addresses (no NAT/endpoints)")
    up.add_argument(
        "--function-image",
        default="",
        help="the worker image's lambda target in ECR: adds the Lambda tier (DARKROOM_TIER picks who serves)",
    )
    env = add_command(actions, "env", cmd_deploy_env)
    down = add_command(actions, "down", cmd_deploy_down)
    down.add_argument("--yes", action="store_true", help="really delete")
    local = add_command(actions, "local", cmd_deploy_local)
    for action in (up, env, down, local):
        action.add_argument("--stack", default=StackSpec.stack_name, help="stack name (default: %(default)s)")

    ami = commands.add_parser("ami", help="build the worker AMI with Packer")
    ami_actions = ami.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = add_command(ami_actions, "build", cmd_ami_build)
    build.add_argument("--worker-image", help="the pushed worker image URI (ECR)")
    build.add_argument("--parameter", default=PoolSettings.ami_parameter, help="SSM parameter (default: %(default)s)")
    build.add_argument("--packer", default="packer", help="the packer binary (1.7 or later)")
    build.add_argument("--manifest", type=Path, default=None, help="Packer's manifest (default: ami/manifest.json)")
    build.add_argument("--publish-only", action="store_true", help="skip Packer; publish the manifest's last AMI")
    build.add_argument(
        "--fast-snapshot-restore",
        nargs="+",
        metavar="ZONE",
        help="enable Fast Snapshot Restore in these availability zones (billed per hour; see docs/deploy.md)",
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m darkroom.cli.deploy ACTION``: the deploy actions without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="python -m darkroom.cli.deploy")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["deploy", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
