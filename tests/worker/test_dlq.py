"""``darkroom dlq``: dead-lettered jobs listed with their reason, redriven to done, or purged (real moto)."""

from __future__ import annotations

import pytest

from darkroom.cli.main import main
from jobs.message import InputKind
from jobs.status import JobState
from tests.worker.conftest import Parts, dark_jpeg
from worker.frames import SrgbFrame


class BrokenEnhancer:
    name = "broken"

    def enhance_srgb(self, frame: SrgbFrame, ratio: float | None) -> object:
        raise RuntimeError("the accelerator fell off the bus")


def dead_letter_by_crashes(parts: Parts) -> str:
    """A job whose every delivery was taken and never finished, as when its workers are killed."""
    job_id = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    for _ in range(2):  # max_receives is 2 in the tests' queues
        delivery = parts.queue.receive(wait_seconds=1)
        assert delivery is not None
        parts.queue.set_visibility(delivery, 0)
    assert parts.queue.receive(wait_seconds=1) is None  # this receive moved it to the DLQ
    return job_id


def dlq(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["dlq", *args]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.fixture
def env(parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in parts.aws.to_env().items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("env")
def test_dead_letters_are_listed_with_their_reason_and_redriven_to_done(
    parts: Parts, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = dead_letter_by_crashes(parts)
    broken = parts.submit(dark_jpeg(), "jpg", InputKind.SRGB)
    working, parts.enhancer = parts.enhancer, BrokenEnhancer()  # type: ignore[assignment]
    parts.worker().run(max_jobs=2)  # both attempts fail with the error below; the job gives up
    assert parts.queue.receive(wait_seconds=1) is None  # and its message is now dead-lettered too

    listed = dlq(capsys, "list")
    assert listed[-1] == "2 dead-lettered job(s)"
    reasons = {line.split()[0]: line for line in listed[:-1]}
    assert "crashed or were lost" in reasons[crashed]
    assert "RuntimeError" in reasons[broken] and "gave-up" in reasons[broken]
    assert parts.status(crashed).state is JobState.FAILED  # the sweep marked it, as a worker's would

    assert dlq(capsys, "redrive", crashed)[-1] == "1 job(s) redriven"
    redriven = parts.status(crashed)
    assert redriven.state is JobState.QUEUED and redriven.error is None and "redriven" in (redriven.note or "")
    parts.enhancer = working
    parts.worker().run(max_jobs=1)
    assert parts.status(crashed).state is JobState.DONE
    assert [line.split()[0] for line in dlq(capsys, "list")[:-1]] == [broken]


@pytest.mark.usefixtures("env")
def test_purged_dead_letters_leave_their_jobs_failed_and_the_queue_empty(
    parts: Parts, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = dead_letter_by_crashes(parts)
    assert dlq(capsys, "purge")[-1] == "1 dead letter(s) purged"
    assert parts.status(job_id).state is JobState.FAILED
    depth = parts.dead_letters.depth()
    assert (depth.visible, depth.in_flight) == (0, 0)  # deleted through the sweep's receipt, though hidden
    assert dlq(capsys, "list")[-1] == "0 dead-lettered job(s)"
