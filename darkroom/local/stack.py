"""The local stack: moto, the API under uWSGI and worker processes, on one machine.

``darkroom up`` (``make run``) calls ``LocalStack.start`` and waits; Ctrl-C
stops everything in reverse order. The same code runs in the end-to-end
tests, so what a new user starts is what the tests start.

Workers come one of two ways. With a pool (``StackConfig.pool``, what
``darkroom up`` runs) the API launches EC2 instances in moto on demand and the
fleet emulator plays each as a worker process, which stops when idle: the
stack starts with none. Without one, ``workers`` always-on processes start
with the stack and the API never calls EC2 (what most end-to-end tests use).

``tier="lambda"`` adds the local event source mapping, which runs jobs
through the Lambda handler; ``tier="auto"`` runs it beside the pool, and
makes the function and its mapping in the emulator for the API to turn on
and off (darkroom.local.aws.create_function_switch).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

import requests

from darkroom.local.aws import (
    EMULATOR_CREDENTIALS,
    PoolResources,
    create_function_switch,
    create_pool_resources,
    create_resources,
    deploy_template,
    free_port,
    start_moto,
    use_emulator_credentials,
)
from darkroom.local.config import PoolConfig, StackConfig
from darkroom.local.fleet import Fleet, FleetConfig
from jobs.aws import ec2_client
from jobs.settings import AwsSettings
from pool.settings import PoolSettings

log = logging.getLogger(__name__)


def uwsgi_binary() -> str:
    """uWSGI from this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("uwsgi")
    return str(beside) if beside.exists() else "uwsgi"


def wait_for_api(url: str, api: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until ``url``/readyz answers 200; fails early if the API process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"the API exited with code {api.returncode} while starting")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not become ready at {url} within {timeout:.0f} s")


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.aws = config.aws
        self.moto_server: object | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []  # the always-on ones
        self.worker_metrics_urls: list[str] = []  # where to scrape each always-on worker (each has its own port)
        self.fleet: Fleet | None = None  # plays the pool's instances; tests reach it to interrupt and kill
        self.resources: PoolResources | None = None
        self.switch_env: dict[str, str] = {}  # with tier auto: the mapping the API switches and the poller obeys

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
        pool = self.config.pool
        if self.config.from_template:
            pool_settings = PoolSettings(name=pool.name if pool else "darkroom")
            if pool is not None:
                pool_settings = replace(
                    pool_settings, launch_template=pool.launch_template, ami_parameter=pool.ami_parameter
                )
            self.resources = deploy_template(
                self.aws, pool_settings, lease_seconds=self.config.lease_seconds, max_receives=self.config.max_receives
            )
        else:
            create_resources(self.aws, self.config.lease_seconds, self.config.max_receives)
            if pool is not None:
                self.resources = create_pool_resources(self.aws, pool.launch_template, pool.ami_parameter)
        log.info("AWS emulator (moto) on %s: bucket %s, queue %s", url, self.aws.bucket, self.aws.queue)
        if self.config.tier == "auto":
            mapping = create_function_switch(self.aws, f"{pool.name if pool else 'darkroom'}-worker")
            self.switch_env = {"DARKROOM_LAMBDA_MAPPING": mapping}
        self.api = self._spawn_api()
        if pool is not None:
            self.fleet = Fleet(ec2_client(self.aws), self.fleet_config(pool), self.pool_worker_env(pool)).start()
        for _ in range(self.config.workers):
            self.add_worker()
        if self.config.tier in ("lambda", "auto"):
            self.add_event_source()
        self.wait_until_healthy()

    def child_env(self, role_env: dict[str, str] | None = None) -> dict[str, str]:
        """A child's environment: this one's, the emulator's, the role's, then the config's extra_env."""
        env = {**os.environ, **EMULATOR_CREDENTIALS, **self.aws.to_env(), **(role_env or {}), **self.config.extra_env}
        if self.config.method is not None:  # one method for both kinds; else the code's defaults
            env.setdefault("DARKROOM_METHOD", self.config.method)
            env.setdefault("DARKROOM_SRGB_METHOD", self.config.method)
        env.setdefault("DARKROOM_LEASE_SECONDS", str(self.config.lease_seconds))
        env.setdefault("DARKROOM_WAIT_SECONDS", str(self.config.wait_seconds))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def pool_worker_env(self, pool: PoolConfig) -> dict[str, str]:
        """A pool worker's; the fleet adds DARKROOM_IMDS_URL, its instance's metadata service."""
        return self.child_env({"DARKROOM_IDLE_SECONDS": str(pool.idle_seconds)})

    def fleet_config(self, pool: PoolConfig) -> FleetConfig:
        config = FleetConfig(
            pool=pool.name,
            boot_seconds=pool.boot_seconds,
            chaos_seconds=pool.chaos_seconds,
            chaos_notice_seconds=pool.chaos_notice_seconds,
        )
        return replace(config, command=pool.worker_command) if pool.worker_command else config

    def _spawn_api(self) -> subprocess.Popen[bytes]:
        ini = resources.files("api").joinpath("uwsgi.ini")
        pool, created = self.config.pool, self.resources
        role_env = pool.api_env(created) if pool and created else {"DARKROOM_POOL_ENABLED": "false"}
        env = self.child_env({**role_env, **self.switch_env, "DARKROOM_TIER": self.config.tier})
        env["DARKROOM_HTTP"] = f"{self.config.host}:{self.config.api_port}"
        env["DARKROOM_API_PROCESSES"] = str(self.config.api_processes)
        return subprocess.Popen([uwsgi_binary(), "--ini", str(ini)], env=env)

    def add_worker(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """An always-on worker: not on an instance (no metadata service, no idle stop); metrics on a port of its own."""
        port = free_port()
        role_env = {"DARKROOM_IMDS_URL": "", "DARKROOM_IDLE_SECONDS": "0", "DARKROOM_WORKER_METRICS_PORT": str(port)}
        env = {**self.child_env(role_env), **(extra_env or {})}
        worker = subprocess.Popen([sys.executable, "-m", "worker"], env=env)
        self.workers.append(worker)
        self.worker_metrics_urls.append(f"http://127.0.0.1:{port}/metrics")
        return worker

    def add_event_source(self) -> subprocess.Popen[bytes]:
        """The Lambda tier: the local event source mapping, invoking the handler (darkroom/local/event_source.py).

        It runs beside the always-on workers (stopped and watched with them): it launches no instance."""
        env = self.child_env({"DARKROOM_IMDS_URL": "", "DARKROOM_WORKER_ID": "lambda:local", **self.switch_env})
        poller = subprocess.Popen([sys.executable, "-m", "darkroom.local.event_source"], env=env)
        self.workers.append(poller)
        return poller

    def wait_until_healthy(self, timeout: float = 60.0) -> None:
        if self.api is None:
            raise RuntimeError("the API was not started")
        wait_for_api(self.config.api_url, self.api, timeout)

    def wait(self) -> int:
        """Block until the API or an always-on worker exits, or the fleet dies; returns an exit code.

        Pool workers come and go: their exits are the fleet's business.
        """
        while True:
            for child in [self.api, *self.workers]:
                if child is not None and child.poll() is not None:
                    return child.returncode
            if self.fleet is not None and not self.fleet.alive:
                return 1
            time.sleep(0.5)

    def stop(self, timeout: float = 15.0) -> None:
        """Workers first (they finish their job), then the API, then the emulator."""
        if self.fleet is not None:
            self.fleet.stop()
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
