"""The Packer template, the worker's systemd units and the Dockerfiles say what the issue asks of them."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.deploy.conftest import DOCKERFILES, ROOT
from worker.settings import ModelChoice

AMI = ROOT / "ami"


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals' quotes; drop them (and its block markers) throughout."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


@pytest.fixture(scope="module")
def packer() -> dict[str, Any]:
    with (AMI / "packer.pkr.hcl").open() as handle:
        parsed: dict[str, Any] = unquote(hcl2.load(handle))
    return parsed


def source(packer: dict[str, Any]) -> dict[str, Any]:
    (only,) = packer["source"]
    found: dict[str, Any] = only["amazon-ebs"]["worker"]
    return found


def scripts(packer: dict[str, Any]) -> list[str]:
    (build,) = packer["build"]
    return [s for p in build["provisioner"] if "shell" in p for s in p["shell"].get("scripts", [])]


def test_the_base_is_the_newest_aws_deep_learning_base_gpu_ami(packer: dict[str, Any]) -> None:
    (found_by,) = source(packer)["source_ami_filter"]
    assert found_by["owners"] == ["amazon"] and found_by["most_recent"] is True
    assert re.fullmatch(r"Deep Learning Base .*GPU AMI .*\*", found_by["filters"]["name"])


def test_every_script_the_build_runs_exists_and_in_order(packer: dict[str, Any]) -> None:
    names = [s.removeprefix("${path.root}/scripts/") for s in scripts(packer)]
    assert names == ["install.sh", "load-image.sh", "warm-up.sh", "cleanup.sh"]
    assert all((AMI / "scripts" / name).is_file() for name in names)


def test_the_image_is_loaded_at_build_and_never_pulled_at_boot() -> None:
    load = (AMI / "scripts" / "load-image.sh").read_text()
    assert 'docker pull "$WORKER_IMAGE"' in load
    unit = (AMI / "files" / "darkroom-worker.service").read_text()
    assert "--pull never" in unit and "docker pull" not in unit


def test_the_weights_are_on_disk_and_mounted_into_the_worker() -> None:
    load = (AMI / "scripts" / "load-image.sh").read_text()
    unit = (AMI / "files" / "darkroom-worker.service").read_text()
    shipped = sorted(p.name for p in (ROOT / "worker" / "models").glob("*.safetensors"))
    for name in shipped:
        assert f"/opt/darkroom/models/{name}" in load or f'{name}" /opt/darkroom/models/' in load
        assert f"/models/{name}" in unit
    assert "--volume /opt/darkroom/models:/models:ro" in unit


def unit_options(name: str) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    text = (AMI / "files" / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            options.setdefault(key.strip(), []).append(value.strip())
    return options


def test_the_unit_starts_the_worker_at_boot_and_powers_off_when_it_exits() -> None:
    unit = unit_options("darkroom-worker.service")
    assert unit["WantedBy"] == ["multi-user.target"]
    assert unit["SuccessAction"] == ["poweroff"]  # the worker exits 0 when idle (worker/__main__.py)
    assert unit["FailureAction"] == ["poweroff"]  # crashed past the restart limit: do not idle at a GPU's price
    assert unit["Restart"] == ["on-failure"]
    assert "/etc/darkroom/worker.env" in unit["EnvironmentFile"]  # the launch template's user data
    assert "darkroom-worker.service" in (AMI / "scripts" / "install.sh").read_text()


def docker_run_args(tmp_path: Path, **env: str) -> list[str]:
    """The arguments darkroom-worker-run hands ``docker``, with a stand-in ``docker`` first on the PATH."""
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DARKROOM_")}
    result = subprocess.run(
        [str(AMI / "files" / "darkroom-worker-run"), "--rm", "IMAGE"],
        env={**base, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def test_the_worker_logs_to_cloudwatch_without_blocking_or_to_the_journal_without_a_group(tmp_path: Path) -> None:
    """A slow CloudWatch Logs drops lines from a buffer rather than stall the worker; no group still starts it."""
    unit = unit_options("darkroom-worker.service")
    (start,) = unit["ExecStart"]
    assert start.startswith("/usr/local/bin/darkroom-worker-run ") and "--log-" not in start
    install = (AMI / "scripts" / "install.sh").read_text()
    assert "/tmp/darkroom/darkroom-worker-run /usr/local/bin/darkroom-worker-run" in install
    args = docker_run_args(tmp_path, DARKROOM_LOG_GROUP="/darkroom/workers", DARKROOM_REGION="eu-west-1")
    assert args[0] == "run" and args[-2:] == ["--rm", "IMAGE"]
    options = [args[i + 1] for i, arg in enumerate(args) if arg == "--log-opt"]
    assert args[args.index("--log-driver") + 1] == "awslogs"
    assert set(options) == {
        "awslogs-group=/darkroom/workers",
        "awslogs-region=eu-west-1",
        "mode=non-blocking",
        "max-buffer-size=4m",
    }
    for env in ({"DARKROOM_LOG_GROUP": "", "DARKROOM_REGION": "eu-west-1"}, {}):
        assert docker_run_args(tmp_path, **env) == ["run", "--log-driver", "journald", "--rm", "IMAGE"]


def test_the_worker_exits_zero_when_it_stops_by_itself() -> None:
    """What SuccessAction relies on: python -m worker returns 0 after its loop ends (idle, notice, signal)."""
    main = (ROOT / "worker" / "__main__.py").read_text()
    assert re.search(r"worker\.run\(max_jobs=args\.max_jobs\)\n    return 0\n", main)


def test_a_warm_up_runs_at_build_time_and_records_what_start_up_reads(packer: dict[str, Any]) -> None:
    warm = (AMI / "scripts" / "warm-up.sh").read_text()
    assert "warm_up(" in warm and "load_enhancer(" in warm and "--gpus all" in warm
    assert "/etc/darkroom/preread.list" in warm
    preread = unit_options("darkroom-preread.service")
    assert preread["ExecStart"] == ["/usr/local/bin/darkroom-preread /etc/darkroom/preread.list"]
    assert preread["DefaultDependencies"] == ["no"]  # starts with the system, before the worker wants it


def test_the_ami_is_tagged_with_the_git_commit_and_recorded_in_the_manifest(packer: dict[str, Any]) -> None:
    (local,) = packer["locals"]
    assert local["tags"]["darkroom:git-commit"] == "${var.git_commit}"
    assert "${var.git_commit}" in local["ami_name"]
    worker = source(packer)
    assert "local.tags" in worker["tags"] and worker["snapshot_tags"] == "${local.tags}"
    (build,) = packer["build"]
    (manifest,) = [p["manifest"] for p in build["post-processor"] if "manifest" in p]
    assert manifest["output"] == "${path.root}/manifest.json"
    assert manifest["custom_data"]["git_commit"] == "${var.git_commit}"


def test_the_build_instance_requires_imdsv2(packer: dict[str, Any]) -> None:
    (options,) = source(packer)["metadata_options"]
    assert options["http_tokens"] == "required"


def dockerfile_lines(path: Any) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_are_pinned_non_root_healthchecked_and_install_dependencies_before_the_source(path: Any) -> None:
    lines = dockerfile_lines(path)
    stages: set[str] = set()  # FROM an earlier stage of the same file is no base image
    for line in lines:
        if line.startswith("FROM "):
            image, *alias = line.split()[1:]
            stages.update(alias[1:] if alias[:1] == ["AS"] else [])
            if image in stages:
                continue
            assert re.search(r":\d+\.\d+\.\d+", image), f"unpinned base image {image}"
    assert lines[[i for i, line in enumerate(lines) if line.startswith("USER ")][-1]].startswith("USER 10001")
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    first_source = min(i for i, line in enumerate(lines) if re.match(r"COPY (jobs|api|worker)/", line))
    installs = [i for i, line in enumerate(lines) if "pip install" in line or "pip wheel" in line]
    assert installs[0] < first_source  # dependencies are a layer of their own, before the code


def test_the_api_image_has_no_torch_and_the_worker_base_matches_the_pinned_torch() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not any(dep.startswith("torch") for dep in extras["api"])
    api = (ROOT / "docker" / "api.Dockerfile").read_text()
    assert '".[api]"' in api and "COPY pool/" in api and "COPY worker/" not in api
    (torch_pin,) = [dep.split("==")[1] for dep in extras["worker"] if dep.startswith("torch==")]
    worker = (ROOT / "docker" / "worker.Dockerfile").read_text()
    assert f"FROM pytorch/pytorch:{torch_pin}-cuda" in worker


METHOD_SETTING = re.compile(r"DARKROOM_(SRGB_)?METHOD\W+(\w+)")
DEPLOYED = (
    "docker/worker.Dockerfile",
    "docker-compose.yml",
    "ami/files/darkroom-worker.service",
    "ami/scripts/warm-up.sh",
    "ami/packer.pkr.hcl",
    "infra/darkroom.yaml",
)


def test_what_is_deployed_runs_the_codes_default_methods() -> None:
    """The defaults follow the evaluation; an image or unit that pins another method would hide that."""
    defaults = {"": ModelChoice.method, "SRGB_": ModelChoice.srgb_method}
    for path in DEPLOYED:
        for match in METHOD_SETTING.finditer((ROOT / path).read_text()):
            assert match.group(2) == defaults[match.group(1) or ""], f"{path} sets {match.group(0)}"


def test_the_lambda_target_runs_the_workers_handler_through_the_runtime_interface_client() -> None:
    """One image, two entry points: the `lambda` stage's command names a handler that exists."""
    text = (ROOT / "docker" / "worker.Dockerfile").read_text()
    stage = text.split("AS lambda", 1)[1].split("\nFROM ", 1)[0]
    assert 'ENTRYPOINT ["python", "-m", "awslambdaric"]' in stage
    (command,) = re.findall(r'CMD \["([\w.]+)"\]', stage)
    module, function = command.rsplit(".", 1)
    source = ROOT / (module.replace(".", "/") + ".py")  # read, not imported: importing it loads the model
    assert function in {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert text.rstrip().splitlines()[-1].startswith("ENTRYPOINT") and "AS worker" in text  # the default: EC2's
