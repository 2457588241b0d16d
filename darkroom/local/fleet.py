"""The fleet emulator: each EC2 instance the pool launches, played by a local worker process.

moto records instances but runs nothing. This watches moto's EC2 for the
pool's instances (found by the pool tag, as the API counts them) and does
what AWS would do with a real one:

- a new pending/running instance boots (a scaled-down delay), then its
  worker process starts, with its own fake metadata service;
- an instance terminated in EC2 (by the API's reaper, a test, anyone) loses
  its process at once: SIGKILL, as when AWS reclaims the machine;
- a worker process that exits by itself (idle, drained) powers its instance
  off, which terminates it (the template's shutdown behaviour);
- ``interrupt`` posts a spot notice and reclaims the instance when it is due;
  ``kill`` pulls the plug; ``strike`` does one of the two to a random
  worker, and with ``chaos_seconds`` set the watcher strikes that often.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from darkroom.local.aws import free_port
from darkroom.local.imds import FakeImds, InstanceIdentity
from jobs.aws import AWS_ERRORS
from jobs.pool import POOL_TAG

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import InstanceTypeDef

log = logging.getLogger(__name__)

ALIVE_STATES = frozenset({"pending", "running"})


@dataclass(frozen=True)
class FleetConfig:
    pool: str = "darkroom"  # the value of the pool tag this fleet plays
    boot_seconds: float = 2.0  # launch to worker start: a real GPU instance takes a minute or more
    poll_seconds: float = 0.5  # how often EC2 is looked at
    stop_seconds: float = 15.0  # how long stop() lets workers finish their job
    chaos_seconds: float = 0.0  # strike a random worker this often; 0: never
    chaos_notice_seconds: float = 10.0  # the notice a chaos interruption gives
    command: tuple[str, ...] = (sys.executable, "-m", "worker")


@dataclass
class Machine:
    """One emulated instance: its metadata service and, once booted, its worker."""

    identity: InstanceIdentity
    imds: FakeImds
    boots_at: float  # on the fleet's clock
    process: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0  # its worker's Prometheus endpoint, on 127.0.0.1 (each worker has its own)
    reclaim_at: float | None = None  # when AWS takes it back, after an interruption notice


def identity_of(instance: InstanceTypeDef) -> InstanceIdentity:
    return InstanceIdentity(
        instance_id=instance["InstanceId"],
        instance_type=instance.get("InstanceType", "g6.xlarge"),
        availability_zone=instance.get("Placement", {}).get("AvailabilityZone", "us-east-1a"),
        life_cycle="spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand",
    )


class Fleet:
    """Plays the pool's instances in moto as worker processes; see the module's docstring.

    ``worker_env`` is the environment every worker gets (AWS endpoint,
    bucket, queue, method, idle time); each also gets DARKROOM_IMDS_URL of
    its own metadata service, from which it learns its instance id, and a
    free port of its own for its metrics (``metrics_url``).
    """

    def __init__(
        self,
        ec2: EC2Client,
        config: FleetConfig,
        worker_env: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.ec2 = ec2
        self.config = config
        self.worker_env = dict(worker_env)
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._machines: dict[str, Machine] = {}
        self._gone: set[str] = set()  # retired here; never adopted again, whatever a stale listing says
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"fleet-{config.pool}", daemon=True)

    def start(self) -> Fleet:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def instance_ids(self) -> list[str]:
        """The instances being played: booting or with a worker."""
        with self._lock:
            return sorted(self._machines)

    def process(self, instance_id: str) -> subprocess.Popen[bytes] | None:
        """The worker process of an instance, once it has booted."""
        with self._lock:
            machine = self._machines.get(instance_id)
            return machine.process if machine else None

    def imds(self, instance_id: str) -> FakeImds | None:
        with self._lock:
            machine = self._machines.get(instance_id)
            return machine.imds if machine else None

    def metrics_url(self, instance_id: str) -> str | None:
        """Where to scrape the worker of an instance, once it has booted."""
        with self._lock:
            machine = self._machines.get(instance_id)
            return f"http://127.0.0.1:{machine.metrics_port}/metrics" if machine and machine.process else None

    def interrupt(self, instance_id: str, notice_seconds: float = 120.0, action: str = "terminate") -> bool:
        """A spot interruption: the notice now, the instance reclaimed after ``notice_seconds``.

        False when the instance is not (or no longer) played here.
        """
        with self._lock:
            machine = self._machines.get(instance_id)
            if machine is None:
                return False
            machine.imds.inject_interruption(notice_seconds, action)
            machine.reclaim_at = self._clock() + notice_seconds
        log.info("spot interruption notice for %s: reclaimed in %g s", instance_id, notice_seconds)
        return True

    def rebalance(self, instance_id: str) -> bool:
        """A rebalance recommendation: a hint that an interruption may come."""
        with self._lock:
            machine = self._machines.get(instance_id)
            if machine is not None:
                machine.imds.inject_rebalance()
            return machine is not None

    def kill(self, instance_id: str) -> bool:
        """Pull the plug: SIGKILL the worker and terminate the instance."""
        with self._lock:
            if instance_id not in self._machines:
                return False
            self._terminate_instance(instance_id)
            self._retire(instance_id, "killed")
            return True

    def strike(self, notice_seconds: float | None = None) -> str | None:
        """Chaos: interrupt or kill one running worker, chosen at random; says what it did, or None."""
        with self._lock:
            targets = sorted(i for i, m in self._machines.items() if m.process is not None and m.reclaim_at is None)
            if not targets:
                return None
            instance_id = self._rng.choice(targets)
            if self._rng.random() < 0.5:
                self.kill(instance_id)
                return f"killed {instance_id}"
            self.interrupt(instance_id, self.config.chaos_notice_seconds if notice_seconds is None else notice_seconds)
            return f"interrupted {instance_id}"

    def sync(self) -> None:
        """One look at EC2 and one step for every instance; the watcher calls it each poll."""
        listed = self._list_instances()
        with self._lock:
            now = self._clock()
            for instance_id, instance in listed.items():
                alive = instance.get("State", {}).get("Name") in ALIVE_STATES
                if alive and instance_id not in self._machines and instance_id not in self._gone:
                    self._adopt(instance, now)
            for instance_id, machine in list(self._machines.items()):
                self._step(instance_id, machine, listed.get(instance_id), now)

    def stop(self) -> None:
        """Stop watching; workers get SIGTERM (they finish their job), then their instances end."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            machines = list(self._machines.items())
            for _, machine in machines:
                if machine.process is not None and machine.process.poll() is None:
                    machine.process.send_signal(signal.SIGTERM)
            deadline = self._clock() + self.config.stop_seconds
            for instance_id, machine in machines:
                if machine.process is not None:
                    try:
                        machine.process.wait(max(deadline - self._clock(), 0.1))
                    except subprocess.TimeoutExpired:
                        log.warning("worker of %s did not stop in time", instance_id)
                try:
                    self._terminate_instance(instance_id)
                except AWS_ERRORS as exc:  # the emulator may be gone already
                    log.warning("could not terminate %s: %s", instance_id, exc)
                self._retire(instance_id, "fleet stopped")

    def _watch(self) -> None:
        next_strike = self._clock() + self.config.chaos_seconds
        while not self._stopping.wait(self.config.poll_seconds):
            try:
                self.sync()
                if self.config.chaos_seconds > 0 and self._clock() >= next_strike:
                    next_strike = self._clock() + self.config.chaos_seconds
                    struck = self.strike()
                    if struck:
                        log.info("chaos: %s", struck)
            except AWS_ERRORS as exc:  # moto busy or restarting: look again next time
                log.warning("fleet: EC2 call failed: %s", exc)

    def _list_instances(self) -> dict[str, InstanceTypeDef]:
        """Every instance with the pool's tag, in any state (moto's filters for the rest fail)."""
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [self.config.pool]}]
        )
        return {
            instance["InstanceId"]: instance
            for page in pages
            for reservation in page.get("Reservations", [])
            for instance in reservation.get("Instances", [])
        }

    def _adopt(self, instance: InstanceTypeDef, now: float) -> None:
        identity = identity_of(instance)
        imds = FakeImds(identity).start()
        self._machines[identity.instance_id] = Machine(identity, imds, boots_at=now + self.config.boot_seconds)
        log.info("instance %s (%s, %s) is booting", identity.instance_id, identity.instance_type, identity.life_cycle)

    def _step(self, instance_id: str, machine: Machine, instance: InstanceTypeDef | None, now: float) -> None:
        """What AWS would do next with this instance."""
        state = instance.get("State", {}).get("Name") if instance else None
        if state not in ALIVE_STATES:
            self._retire(instance_id, f"instance {state or 'gone'}")
        elif machine.reclaim_at is not None and now >= machine.reclaim_at:
            self._terminate_instance(instance_id)
            self._retire(instance_id, "reclaimed after the interruption notice")
        elif machine.process is None and now >= machine.boots_at:
            machine.process = self._start_worker(machine)
        elif machine.process is not None and machine.process.poll() is not None:
            log.info("worker of %s exited with code %s: powering off", instance_id, machine.process.returncode)
            self._terminate_instance(instance_id)
            self._retire(instance_id, "powered off")

    def _start_worker(self, machine: Machine) -> subprocess.Popen[bytes]:
        machine.metrics_port = free_port()
        env = {
            **self.worker_env,
            "DARKROOM_IMDS_URL": machine.imds.url,
            "DARKROOM_WORKER_METRICS_PORT": str(machine.metrics_port),
        }
        process = subprocess.Popen(list(self.config.command), env=env)
        log.info(
            "instance %s is running worker pid %d (metrics on port %d)",
            machine.identity.instance_id,
            process.pid,
            machine.metrics_port,
        )
        return process

    def _terminate_instance(self, instance_id: str) -> None:
        self.ec2.terminate_instances(InstanceIds=[instance_id])

    def _retire(self, instance_id: str, why: str) -> None:
        """Forget an instance: its worker is SIGKILLed if still running, its metadata service stops."""
        machine = self._machines.pop(instance_id)
        self._gone.add(instance_id)
        if machine.process is not None and machine.process.poll() is None:
            machine.process.kill()
            machine.process.wait()
        machine.imds.stop()
        log.info("instance %s retired: %s", instance_id, why)
