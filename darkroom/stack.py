"""The local stack: moto, the API under uWSGI and worker processes, on one machine.

``darkroom up`` (``make run``) calls ``LocalStack.start`` and waits; Ctrl-C
stops everything in reverse order. The same code runs in the end-to-end
tests, so what a new user starts is what the tests start.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import requests

from darkroom.local import EMULATOR_CREDENTIALS, create_resources, start_moto, use_emulator_credentials
from jobs.settings import AwsSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackConfig:
    host: str = "127.0.0.1"
    api_port: int = 8080
    moto_port: int = 4566
    workers: int = 1
    api_processes: int = 4
    method: str = "baseline"
    lease_seconds: int = 60
    max_receives: int = 3
    wait_seconds: int = 20
    aws: AwsSettings = field(default_factory=AwsSettings)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"


def uwsgi_binary() -> str:
    """uWSGI from this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("uwsgi")
    return str(beside) if beside.exists() else "uwsgi"


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.aws = config.aws
        self.moto_server: object | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        use_emulator_credentials()
        server, url = start_moto(self.config.moto_port)
        self.moto_server = server
        self.aws = AwsSettings(
            region=self.config.aws.region,
            endpoint_url=url,
            bucket=self.config.aws.bucket,
            queue=self.config.aws.queue,
            dead_letter_queue=self.config.aws.dead_letter_queue,
        )
        create_resources(self.aws, self.config.lease_seconds, self.config.max_receives)
        log.info("AWS emulator (moto) on %s: bucket %s, queue %s", url, self.aws.bucket, self.aws.queue)
        self.api = self._spawn_api()
        for _ in range(self.config.workers):
            self.add_worker()
        self.wait_until_healthy()

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **EMULATOR_CREDENTIALS, **self.aws.to_env(), **self.config.extra_env}
        env.setdefault("DARKROOM_METHOD", self.config.method)
        env.setdefault("DARKROOM_LEASE_SECONDS", str(self.config.lease_seconds))
        env.setdefault("DARKROOM_WAIT_SECONDS", str(self.config.wait_seconds))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn_api(self) -> subprocess.Popen[bytes]:
        ini = resources.files("api").joinpath("uwsgi.ini")
        env = self.child_env()
        env["DARKROOM_HTTP"] = f"{self.config.host}:{self.config.api_port}"
        env["DARKROOM_API_PROCESSES"] = str(self.config.api_processes)
        return subprocess.Popen([uwsgi_binary(), "--ini", str(ini)], env=env)

    def add_worker(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**self.child_env(), **(extra_env or {})}
        worker = subprocess.Popen([sys.executable, "-m", "worker"], env=env)
        self.workers.append(worker)
        return worker

    def wait_until_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api is not None and self.api.poll() is not None:
                raise RuntimeError(f"the API exited with code {self.api.returncode} while starting")
            try:
                if requests.get(f"{self.config.api_url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not become ready at {self.config.api_url} within {timeout:.0f} s")

    def wait(self) -> int:
        """Block until a child exits on its own; returns its exit code."""
        while True:
            for child in [self.api, *self.workers]:
                if child is not None and child.poll() is not None:
                    return child.returncode
            time.sleep(0.5)

    def stop(self, timeout: float = 15.0) -> None:
        """Workers first (they finish their job), then the API, then the emulator."""
        children = [*self.workers, self.api]
        for child in children:
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            if child is None:
                continue
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.moto_server is not None:
            self.moto_server.stop()  # type: ignore[attr-defined]
            self.moto_server = None
