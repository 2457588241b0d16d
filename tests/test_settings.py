"""Every DARKROOM_* variable is declared once, and from_env, the worker's help and the docs agree with that."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.settings import UWSGI_SETTINGS, ApiSettings
from darkroom.cli.config import markdown
from jobs.settings import AwsSettings, Setting, SettingsError, settings_of
from pool.settings import EventSourceSettings, PoolSettings
from worker.settings import UNIT_SETTINGS, WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\bDARKROOM_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
# the code and deploy artifacts that read or set DARKROOM_* variables (tests set their own knobs)
SOURCES = ("jobs", "pool", "api", "worker", "darkroom", "bench", "docker", "ami", "infra", "docker-compose.yml")


def declared() -> list[Setting]:
    api, worker = [*settings_of(ApiSettings), *UWSGI_SETTINGS], [*settings_of(WorkerSettings), *UNIT_SETTINGS]
    return [*api, *worker, *settings_of(EventSourceSettings)]


def used_in_code() -> set[str]:
    paths = [path for source in SOURCES for path in (ROOT / source).rglob("*") if path.is_file()]
    texts = (path.read_text(errors="ignore") for path in paths if path.suffix not in (".safetensors", ".png"))
    return {name for text in texts for name in VARIABLE.findall(text)}


def test_docs_configuration_is_what_darkroom_config_prints() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert documented == markdown(), "run: darkroom config > docs/configuration.md"


def test_every_variable_the_code_uses_is_declared() -> None:
    assert used_in_code() - {spec.name for spec in declared()} == set()


def test_each_variable_is_declared_once() -> None:
    """A variable read by two settings objects (DARKROOM_MAX_PIXELS) comes from one declaration."""
    by_name: dict[str, Setting] = {}
    for spec in declared():
        assert by_name.setdefault(spec.name, spec) == spec, spec.name


def test_the_workers_help_lists_every_worker_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    for spec in settings_of(WorkerSettings):
        assert re.search(rf"^  {spec.name} +{re.escape(spec.doc)}", result.stdout, re.M), spec.name


def test_uwsgi_ini_defaults_are_the_declared_ones() -> None:
    ini = (ROOT / "api" / "uwsgi.ini").read_text()
    defaults = dict(re.findall(r"if-not-env = (DARKROOM_\w+)\n\w+ = (\S+)", ini))
    assert defaults == {spec.name: spec.shown for spec in UWSGI_SETTINGS}


def test_from_env_reads_each_kind_and_keeps_defaults_for_blank() -> None:
    env = {"DARKROOM_MAX_WORKERS": " 7 ", "DARKROOM_SPOT": "off", "DARKROOM_INSTANCE_TYPES": "g5.xlarge, ,g6.xlarge"}
    pool = PoolSettings.from_env({**env, "DARKROOM_BOOT_SECONDS_ESTIMATE": "", "DARKROOM_SUBNETS": " , "})
    assert (pool.max_workers, pool.spot, pool.instance_types) == (7, False, ("g5.xlarge", "g6.xlarge"))
    assert (pool.boot_seconds_estimate, pool.subnets) == (PoolSettings.boot_seconds_estimate, ())
    assert AwsSettings.from_env({"AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"
    both = {"AWS_DEFAULT_REGION": "eu-west-1", "DARKROOM_REGION": "us-west-2"}
    assert AwsSettings.from_env(both).region == "us-west-2"
    worker = WorkerSettings.from_env({"DARKROOM_MODEL_CACHE": "~/models", "DARKROOM_LEASE_SECONDS": "30"})
    assert worker.models.cache_dir == Path("~/models").expanduser()
    assert worker.heartbeat_seconds == 10  # a third of the lease


@pytest.mark.parametrize(
    "env",
    [
        {"DARKROOM_METHOD": "magic"},
        {"DARKROOM_WAIT_SECONDS": "21"},
        {"DARKROOM_LEASE_SECONDS": "0"},
        {"DARKROOM_LEASE_SECONDS": "30", "DARKROOM_HEARTBEAT_SECONDS": "30"},
        {"DARKROOM_PIPELINE_DEPTH": "0"},
        {"DARKROOM_IDLE_SECONDS": "-1"},
        {"DARKROOM_NOTICE_POLL_SECONDS": "nan"},
        {"DARKROOM_IMDS_URL": "169.254.169.254"},
        {"DARKROOM_MAX_PIXELS": "lots"},
    ],
)
def test_the_worker_refuses_what_it_cannot_use(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env)) if len(env) == 1 else "HEARTBEAT"):
        WorkerSettings.from_env(env)
