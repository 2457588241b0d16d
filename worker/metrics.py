"""The worker's metrics: each settled job recorded once, into a sink passed in.

``JobRunner`` (worker/job.py) already times every stage of a job; when the
job ends (done, or failed for good) it hands one ``JobEnded`` to its
``MetricsSink``. Two sinks, either or both (``DARKROOM_WORKER_METRICS_PORT``,
``DARKROOM_WORKER_EMF``):

- ``PrometheusSink``: a registry of this worker's own, served on a local port
  (the local stack gives each worker process a port of its own);
- ``EmfSink``: one CloudWatch Embedded Metric Format JSON line per job on
  stdout. On AWS stdout goes to CloudWatch Logs (the worker unit's awslogs
  driver; Lambda's own log group), which turns the line into metrics: nothing
  to scrape.

Submit-to-done latency is measured here, not in the API: only the worker's
conditional write of ``done`` happens exactly once per job, while the API
sees a job turn done only when a client polls it (many times, or never). A
repeat delivery of a done job is acknowledged, not recorded again; a worker
that dies between its done write and ``record`` loses that one observation
(counted at most once, never twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from jobs.emf import emf_line, print_line

log = logging.getLogger(__name__)

STAGES = ("download", "decode", "enhance", "encode", "upload")
DONE, FAILED = "done", "failed"
# seconds: a small sRGB job on a GPU takes well under one; a full RAW frame on a CPU, tens; a queue wait, minutes
STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LATENCY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@dataclass(frozen=True)
class JobEnded:
    """One job this worker settled: done (with its latency from submit) or failed (with its error code)."""

    kind: str  # raw or srgb ("" for a dead-lettered job: the sweep reads no message)
    outcome: str  # DONE or FAILED
    stages: Mapping[str, float] = field(default_factory=dict)  # seconds, for the stages that ran
    latency_seconds: float | None = None  # submit to done; None when failed
    reason: str = ""  # the job's error code when failed


class MetricsSink(Protocol):
    def record(self, ended: JobEnded) -> None: ...


class NoMetrics:
    """A sink that drops everything: a worker with neither a metrics port nor EMF."""

    def record(self, ended: JobEnded) -> None:
        pass


class Sinks:
    """Every job to each of several sinks."""

    def __init__(self, sinks: Sequence[MetricsSink]) -> None:
        self.sinks = tuple(sinks)

    def record(self, ended: JobEnded) -> None:
        for sink in self.sinks:
            sink.record(ended)


class PrometheusSink:
    """The worker's metrics in a registry of its own (so tests and processes never share globals)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.stage_seconds = Histogram(
            "darkroom_worker_stage_seconds",
            "Seconds each stage of a done job took, by stage and input kind",
            ["stage", "kind"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "darkroom_job_latency_seconds",
            "Submit to done, by input kind: observed once per job, by the worker whose done write won",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.done = Counter(
            "darkroom_worker_jobs_done",
            "Jobs done, by input kind (rate() gives jobs per minute)",
            ["kind"],
            registry=self.registry,
        )
        self.failed = Counter(
            "darkroom_worker_jobs_failed", "Jobs failed for good, by error code", ["reason"], registry=self.registry
        )

    def record(self, ended: JobEnded) -> None:
        if ended.outcome == FAILED:
            self.failed.labels(ended.reason).inc()
            return
        for stage, seconds in ended.stages.items():
            self.stage_seconds.labels(stage, ended.kind).observe(seconds)
        if ended.latency_seconds is not None:
            self.latency.labels(ended.kind).observe(ended.latency_seconds)
        self.done.labels(ended.kind).inc()

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Answer Prometheus scrapes on ``address:port`` from a daemon thread."""
        start_http_server(port, address, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", address, port)


def emf_of(ended: JobEnded, now: float) -> str:
    """The job as one EMF line: JobsDone, SubmitToDoneSeconds and <Stage>Seconds by Kind; JobsFailed by Reason."""
    if ended.outcome == FAILED:
        return emf_line({"Reason": ended.reason}, {"JobsFailed": (1.0, "Count")}, now)
    metrics = {"JobsDone": (1.0, "Count")}
    if ended.latency_seconds is not None:
        metrics["SubmitToDoneSeconds"] = (ended.latency_seconds, "Seconds")
    metrics.update({f"{stage.capitalize()}Seconds": (seconds, "Seconds") for stage, seconds in ended.stages.items()})
    return emf_line({"Kind": str(ended.kind)}, metrics, now)


class EmfSink:
    """Each job as an EMF line written to ``write`` (stdout by default), for CloudWatch Logs to turn into metrics."""

    def __init__(self, write: Callable[[str], object] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.write = write or print_line
        self.clock = clock

    def record(self, ended: JobEnded) -> None:
        self.write(emf_of(ended, self.clock()))


def metrics_sink(port: int, emf: bool) -> MetricsSink:
    """The sink the settings ask for; with a port, its endpoint is served from now on."""
    sinks: list[MetricsSink] = []
    if port:
        prometheus = PrometheusSink()
        prometheus.serve(port)
        sinks.append(prometheus)
    if emf:
        sinks.append(EmfSink())
    if not sinks:
        return NoMetrics()
    return sinks[0] if len(sinks) == 1 else Sinks(sinks)
