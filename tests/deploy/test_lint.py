"""Every deploy artifact passes its linter: cfn-lint, checkov, hadolint, shellcheck, packer fmt, docker-compose.

A test skips only when its tool is not installed (`make tools` installs checkov
into .venv/checkov; the others come with the dev extra or Debian).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DOCKERFILES, ROOT, SHELL_SCRIPTS, TEMPLATE

SEARCH_PATH = os.pathsep.join(
    [str(Path(sys.executable).parent), str(ROOT / ".venv" / "checkov" / "bin"), os.environ.get("PATH", "")]
)


def tool(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_the_artifacts_exist() -> None:
    assert TEMPLATE.is_file()
    assert [p.name for p in DOCKERFILES] == ["api.Dockerfile", "worker.Dockerfile"]
    assert len(SHELL_SCRIPTS) >= 5


def test_cfn_lint() -> None:
    result = run(tool("cfn-lint"), str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_on_the_template_and_the_dockerfiles() -> None:
    """No failed check; every skip is in the template's Metadata with its reason."""
    files = [arg for path in (TEMPLATE, *DOCKERFILES) for arg in ("-f", str(path))]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    frameworks = ("--framework", "cloudformation", "dockerfile")
    result = run(tool("checkov"), "--skip-download", "--quiet", "--compact", *frameworks, "-o", "json", *files, env=env)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"cloudformation", "dockerfile"}
    for report in reports:
        failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
        assert failed == [], report["check_type"]
        for skipped in report["results"].get("skipped_checks", []):
            assert len(skipped["check_result"].get("suppress_comment", "")) > 20, skipped["check_id"]


def test_hadolint_at_warning_level() -> None:
    result = run(tool("hadolint"), "--failure-threshold", "warning", *map(str, DOCKERFILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_on_every_shell_script() -> None:
    every_script = {
        p for p in (ROOT / "ami").rglob("*") if p.is_file() and p.read_bytes().startswith(b"#!/usr/bin/env bash")
    }
    assert every_script == set(SHELL_SCRIPTS)
    result = run(tool("shellcheck"), *map(str, SHELL_SCRIPTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_packer_fmt() -> None:
    result = run(tool("packer"), "fmt", "-check", "-diff", "ami/packer.pkr.hcl")
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_config() -> None:
    result = run(tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
