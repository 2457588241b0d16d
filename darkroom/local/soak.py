"""The soak: the whole local stack under uWSGI and several workers, loaded for a bounded time.

Client threads mix submits, status polls and warms against the real API; a
sampler reads the resident memory of every API and worker process as it
goes, and scrapes the API's /metrics (jobs it counted, queue depth) while
the load runs. At the end the load stops, the workers drain, and every
accepted job must have reached a final state: one that did not is reported
lost. Then the API's /metrics and every worker's endpoint are scraped
again, and the report puts their counts beside the clients' own. ``make soak`` runs it;
RELIABILITY.md holds its numbers.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from darkroom.dng import synthetic_dark_srgb
from darkroom.local.aws import free_port
from darkroom.local.config import SoakConfig, StackConfig
from darkroom.local.scrape import Samples, scrape, summed, total
from darkroom.local.stack import LocalStack

OPERATIONS = ("submit", "poll", "warm")


@dataclass
class Sample:
    operation: str
    status: int  # 0: no answer (connection error or timeout)
    seconds: float


@dataclass
class SoakResult:
    config: SoakConfig
    elapsed: float
    samples: list[Sample]
    jobs: dict[str, str]  # job id -> final state ("lost" when it never reached one)
    memory: dict[str, list[float]] = field(default_factory=dict)  # role -> RSS samples in MiB
    scraped: Scraped | None = None  # the stack's own numbers, scraped after the drain (None: a scrape failed)
    live: list[LiveScrape] = field(default_factory=list)  # the API's /metrics scraped during the load


@dataclass(frozen=True)
class LiveScrape:
    """One scrape of the API's /metrics during the load, beside what its clients had by then."""

    seconds: float  # since the load started
    accepted_by_clients: int  # 202s the clients had had just before the scrape
    accepted_by_api: float  # darkroom_jobs_submitted_total, every API process summed
    queued: float  # the job queue's visible + in-flight messages

    @classmethod
    def of(cls, url: str, seconds: float, accepted_by_clients: int) -> LiveScrape | None:
        try:
            api = scrape(f"{url}/metrics")
        except requests.RequestException:
            return None  # a scrape that fails under load is left out, not fatal to the soak
        queued = total(api, "darkroom_queue_messages", queue="jobs")
        return cls(seconds, accepted_by_clients, total(api, "darkroom_jobs_submitted_total"), queued)


@dataclass(frozen=True)
class Scraped:
    """What the API's /metrics and the workers' endpoints said after the drain, summed over processes."""

    api: Samples
    workers: Samples

    @classmethod
    def of(cls, stack: LocalStack) -> Scraped | None:
        try:
            api = scrape(f"{stack.config.api_url}/metrics")
            workers = summed(scrape(url) for url in stack.worker_metrics_urls)
        except requests.RequestException:
            return None
        return cls(api, workers)

    def rows(self, result: SoakResult) -> list[str]:
        """Client-side counts beside the scraped ones: they must agree."""
        states = list(result.jobs.values())
        latency = total(self.workers, "darkroom_job_latency_seconds_sum")
        done = total(self.workers, "darkroom_job_latency_seconds_count")
        accepted = sum(s.operation == "submit" and s.status == 202 for s in result.samples)
        return [
            "| | client side | scraped from /metrics |",
            "|---|---|---|",
            f"| jobs accepted | {accepted} | {total(self.api, 'darkroom_jobs_submitted_total'):.0f} (API) |",
            f"| jobs done | {states.count('done')} | {total(self.workers, 'darkroom_worker_jobs_done_total'):.0f}"
            " (workers) |",
            f"| jobs failed | {states.count('failed')} | {total(self.workers, 'darkroom_worker_jobs_failed_total'):.0f}"
            " (workers) |",
            f"| mean submit to done | | {latency / done if done else 0.0:.2f} s (workers) |",
        ]


def dark_jpeg(seed: int) -> bytes:
    """A small dark photo (640x480), different for each seed."""
    out = io.BytesIO()
    Image.fromarray(synthetic_dark_srgb(480, 640, seed=seed)).save(out, "JPEG", quality=90)
    return out.getvalue()


class LoadClient:
    """One client thread: a keep-alive session, its own jobs, a log of what every request took."""

    def __init__(self, url: str, config: SoakConfig, index: int, jobs: set[str], lock: threading.Lock) -> None:
        self.url, self.config = url, config
        self.random = random.Random(config.seed * 1000 + index)
        self.session = requests.Session()
        self.photo = dark_jpeg(index)
        self.jobs, self.lock = jobs, lock
        self.mine: list[str] = []
        self.samples: list[Sample] = []

    def run(self, until: float) -> None:
        while time.monotonic() < until:
            operation = self.random.choices(OPERATIONS, self.config.weights)[0]
            if operation == "poll" and not self.mine:
                operation = "submit"
            self._timed(operation, getattr(self, operation))

    def _timed(self, operation: str, call: Callable[[], int]) -> None:
        started = time.perf_counter()
        try:
            status = call()
        except requests.RequestException:
            status = 0
        self.samples.append(Sample(operation, status, time.perf_counter() - started))

    def submit(self) -> int:
        files = {"image": ("dark.jpg", self.photo, "image/jpeg")}
        response = self.session.post(f"{self.url}/v1/jobs", files=files, timeout=30)
        if response.status_code == 202:
            job_id = response.json()["id"]
            self.mine.append(job_id)
            with self.lock:
                self.jobs.add(job_id)
        return response.status_code

    def poll(self) -> int:
        return self.session.get(f"{self.url}/v1/jobs/{self.random.choice(self.mine)}", timeout=30).status_code

    def warm(self) -> int:
        return self.session.post(f"{self.url}/v1/warm", timeout=30).status_code


def rss_mib(pid: int) -> float:
    """Resident memory of one process, from /proc (0.0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def sample_memory(stack: LocalStack) -> dict[str, float]:
    """The API (uWSGI master and its processes, summed) and each always-on worker."""
    memory: dict[str, float] = {}
    if stack.api is not None:
        memory["api (all uWSGI processes)"] = sum(rss_mib(pid) for pid in [stack.api.pid, *children(stack.api.pid)])
    for index, worker in enumerate(stack.workers):
        memory[f"worker {index + 1}"] = rss_mib(worker.pid)
    return memory


def run_soak(config: SoakConfig, progress: Callable[[str], None] = print) -> SoakResult:
    stack_config = StackConfig(
        api_port=free_port(),
        moto_port=free_port(),
        method="baseline",  # the stack's behaviour, not a model's: seconds per job on a CPU
        workers=config.workers,
        api_processes=config.api_processes,
        wait_seconds=2,
        extra_env={"DARKROOM_SUBMITS_PER_MINUTE": "1000000"},  # the soak measures throughput, not the limit
    )
    stack = LocalStack(stack_config)
    stack.start()
    try:
        return _load(stack, config, progress)
    finally:
        stack.stop()


def _load(stack: LocalStack, config: SoakConfig, progress: Callable[[str], None]) -> SoakResult:
    jobs: set[str] = set()
    lock = threading.Lock()
    clients = [LoadClient(stack.config.api_url, config, i, jobs, lock) for i in range(config.clients)]
    started = time.monotonic()
    until = started + config.seconds
    threads = [threading.Thread(target=client.run, args=(until,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    memory: dict[str, list[float]] = defaultdict(list)
    live: list[LiveScrape] = []
    while any(thread.is_alive() for thread in threads):
        for role, mib in sample_memory(stack).items():
            memory[role].append(mib)
        done = sum(len(client.samples) for client in clients)
        seconds = time.monotonic() - started
        scraped = LiveScrape.of(stack.config.api_url, seconds, len(jobs))
        if scraped is not None:
            live.append(scraped)
        api_says = (
            "" if scraped is None else f" ({scraped.accepted_by_api:.0f} by /metrics, {scraped.queued:.0f} queued)"
        )
        progress(f"{seconds:5.0f} s  {done} requests  {len(jobs)} jobs accepted{api_says}")
        time.sleep(config.sample_seconds)
    elapsed = time.monotonic() - started
    final = drain(stack.config.api_url, sorted(jobs), config.drain_seconds, progress)
    samples = [sample for client in clients for sample in client.samples]
    return SoakResult(config, elapsed, samples, final, dict(memory), Scraped.of(stack), live)


def drain(url: str, jobs: list[str], seconds: float, progress: Callable[[str], None]) -> dict[str, str]:
    """Poll every accepted job until it is done or failed; what is neither at the deadline is lost."""
    final: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    session = requests.Session()
    while time.monotonic() < deadline and len(final) < len(jobs):
        for job_id in jobs:
            if job_id in final:
                continue
            try:
                state = session.get(f"{url}/v1/jobs/{job_id}", timeout=30).json().get("status")
            except requests.RequestException:
                continue  # asked again on the next round
            if state in ("done", "failed"):
                final[job_id] = state
        progress(f"draining: {len(final)} of {len(jobs)} jobs finished")
        if len(final) < len(jobs):
            time.sleep(2)
    return {job_id: final.get(job_id, "lost") for job_id in jobs}


def report(result: SoakResult) -> str:
    """The soak's numbers as Markdown tables."""
    config = result.config
    lines = [
        f"{config.clients} clients, {config.workers} workers, {config.api_processes} API processes, "
        f"{result.elapsed:.0f} s of load",
        "",
        "| operation | requests | per second | p50 ms | p95 ms | p99 ms | 429 | 5xx | no answer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for operation in OPERATIONS:
        mine = [s for s in result.samples if s.operation == operation]
        if not mine:
            continue
        ms = [s.seconds * 1000 for s in mine]
        limited = sum(s.status == 429 for s in mine)
        failed, unanswered = sum(s.status >= 500 for s in mine), sum(s.status == 0 for s in mine)
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        rate = len(mine) / result.elapsed
        lines.append(
            f"| {operation} | {len(mine)} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} "
            f"| {limited} | {failed} | {unanswered} |"
        )
    states = [result.jobs[job] for job in result.jobs]
    done, failed, lost = (states.count(state) for state in ("done", "failed", "lost"))
    lines += ["", f"jobs accepted {len(states)}: done {done}, failed {failed}, lost {lost}", ""]
    lines += [
        "| process | RSS at start MiB | at 1/3 MiB | peak MiB | at end MiB | end vs 1/3 (after warm-up) |",
        "|---|---|---|---|---|---|",
    ]
    for role, mib in result.memory.items():
        first, third, last = mib[0], mib[len(mib) // 3], mib[-1]
        growth = f"{last - third:+.0f} MiB"
        lines.append(f"| {role} | {first:.0f} | {third:.0f} | {max(mib):.0f} | {last:.0f} | {growth} |")
    if result.scraped is not None:
        lines += ["", *result.scraped.rows(result)]
    if result.live:
        lines += [
            "",
            "| during the load, at | jobs accepted (clients) | counted by /metrics | queued |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {s.seconds:.0f} s | {s.accepted_by_clients} | {s.accepted_by_api:.0f} | {s.queued:.0f} |"
            for s in result.live
        ]
    return "\n".join(lines)
