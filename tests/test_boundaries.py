"""The arrows point one way: api -> pool -> jobs <- worker <- training, darkroom on top; in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest

IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, {package!r} + "."):
    # importing worker.lambda_handler is Lambda's init phase: it reaches AWS and loads the model
    if not module.name.endswith(("__main__", "lambda_handler")):
        importlib.import_module(module.name)
print(" ".join(sorted(name for name in sys.modules if name.split(".")[0] in {forbidden!r})))
"""


def run(code: str) -> str:
    """What ``code`` prints in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def loaded(modules: str, names: tuple[str, ...]) -> str:
    """Which of ``names`` a fresh interpreter has loaded once it imported ``modules``."""
    return run(f"import sys, {modules}; print(' '.join(n for n in {names!r} if n in sys.modules))")


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("api", {"torch", "worker", "training", "darkroom"}),
        ("pool", {"flask", "werkzeug", "torch", "api", "worker", "training", "darkroom"}),
        ("worker", {"flask", "api", "darkroom", "werkzeug", "training"}),
        ("training", {"flask", "api", "pool", "darkroom", "boto3", "botocore"}),
        ("jobs", {"flask", "torch", "api", "pool", "worker", "training", "darkroom"}),
    ],
)
def test_package_does_not_import(package: str, forbidden: set[str]) -> None:
    found = run(IMPORT_ALL.format(package=package, forbidden=forbidden))
    assert found == "", f"{package} imports {found}"


def test_the_command_line_loads_no_heavy_library_before_a_command_runs() -> None:
    """`darkroom --help` is instant: each command imports what it needs when it runs."""
    heavy = ("flask", "boto3", "torch", "numpy", "requests", "simpy", "matplotlib")
    assert loaded("darkroom.cli.main", heavy) == ""


def test_the_deploy_commands_run_in_the_api_image() -> None:
    """docker-compose's setup runs ``python -m darkroom.cli.deploy local`` in the API's image: no worker, no moto."""
    modules = "darkroom.cli.deploy, darkroom.local.aws, darkroom.deploy.cloudformation"
    assert loaded(modules, ("worker", "torch", "moto")) == ""
