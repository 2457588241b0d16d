"""The worker's metrics: each settled job recorded once, scraped from its port or read as EMF lines."""

from __future__ import annotations

import json

import pytest
import requests
from prometheus_client import generate_latest

from darkroom.dng import synthetic_dark_dng
from darkroom.local.aws import free_port
from darkroom.local.scrape import samples_of
from jobs.ids import upload_key
from jobs.message import InputKind, JobMessage
from jobs.status import iso_now
from tests.worker.conftest import Parts, dark_jpeg
from worker.metrics import DONE, FAILED, STAGES, EmfSink, JobEnded, PrometheusSink, emf_of, metrics_sink


def test_done_and_failed_jobs_are_counted_once_by_kind_stage_and_reason_on_the_workers_port(parts: Parts) -> None:
    sink = PrometheusSink()
    port = free_port()
    sink.serve(port)
    done_raw = parts.submit(synthetic_dark_dng(64, 96, exposure=1 / 100), "dng", InputKind.RAW, ratio=100.0)
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    parts.submit(b"\xff\xd8\xff\xe0 this is not really a JPEG", "jpg", InputKind.SRGB)
    parts.worker(metrics=sink, pipeline_depth=1).run(max_jobs=4)
    # a second delivery of a done job is acknowledged, not counted again
    parts.queue.send(JobMessage(done_raw, upload_key(done_raw, "dng"), InputKind.RAW, 100.0, iso_now()))
    parts.worker(metrics=sink, pipeline_depth=1).run(max_jobs=1)

    found = samples_of(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    assert found[("darkroom_worker_jobs_done_total", (("kind", "raw"),))] == 1
    assert found[("darkroom_worker_jobs_done_total", (("kind", "srgb"),))] == 2
    assert found[("darkroom_worker_jobs_failed_total", (("reason", "corrupt-input"),))] == 1
    assert found[("darkroom_job_latency_seconds_count", (("kind", "raw"),))] == 1
    assert found[("darkroom_job_latency_seconds_count", (("kind", "srgb"),))] == 2
    for stage in STAGES:
        assert found[("darkroom_worker_stage_seconds_count", (("kind", "srgb"), ("stage", stage)))] == 2, stage
        assert found[("darkroom_worker_stage_seconds_sum", (("kind", "raw"), ("stage", stage)))] > 0, stage


def test_a_job_the_dead_letter_sweep_marks_failed_is_counted_once(parts: Parts) -> None:
    parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    for _ in range(2):  # two deliveries that were never finished, as when a worker is killed mid-job
        delivery = parts.queue.receive(wait_seconds=1)
        assert delivery is not None
        parts.queue.set_visibility(delivery, 0)
    assert parts.queue.receive(wait_seconds=1) is None  # the third receive moved it to the DLQ
    sink = PrometheusSink()
    worker = parts.worker(metrics=sink)
    assert worker.sweep_dead_letters() == 1
    assert worker.sweep_dead_letters() == 0  # already marked: not counted again
    found = samples_of(generate_latest(sink.registry).decode())
    assert found[("darkroom_worker_jobs_failed_total", (("reason", "worker-crashed"),))] == 1


def check_emf(document: dict[str, object]) -> list[str]:
    """The EMF specification's rules for one document; returns its metric names."""
    meta = document["_aws"]
    assert isinstance(meta, dict) and isinstance(meta["Timestamp"], int)
    names = []
    for directive in meta["CloudWatchMetrics"]:
        assert directive["Namespace"] == "darkroom"
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(document[key], str) for key in dimension_set)  # each dimension is a member
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], float) and metric["Unit"] in {"Count", "Seconds"}
            names.append(metric["Name"])
    return names


def test_emf_lines_are_documents_cloudwatch_reads_as_metrics() -> None:
    lines: list[str] = []
    sink = EmfSink(lines.append, clock=lambda: 1_700_000_000.25)
    stages = dict.fromkeys(STAGES, 0.5)
    sink.record(JobEnded("raw", DONE, stages, latency_seconds=12.5))
    sink.record(JobEnded("srgb", FAILED, reason="corrupt-input"))
    done, failed = (json.loads(line) for line in lines)
    assert done["_aws"]["Timestamp"] == 1_700_000_000_250 and done["Kind"] == "raw"
    assert check_emf(done) == [
        "JobsDone",
        "SubmitToDoneSeconds",
        "DownloadSeconds",
        "DecodeSeconds",
        "EnhanceSeconds",
        "EncodeSeconds",
        "UploadSeconds",
    ]
    assert done["SubmitToDoneSeconds"] == 12.5
    assert check_emf(failed) == ["JobsFailed"] and failed["Reason"] == "corrupt-input"
    assert "\n" not in emf_of(JobEnded("raw", DONE, stages, 1.0), 0.0)  # one log event per line


def test_the_emf_setting_prints_each_job_as_one_line_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    sink = metrics_sink(port=0, emf=True)
    sink.record(JobEnded("srgb", DONE, {"decode": 0.25}, latency_seconds=3.0))
    (line,) = capsys.readouterr().out.splitlines()
    assert check_emf(json.loads(line)) == ["JobsDone", "SubmitToDoneSeconds", "DecodeSeconds"]
