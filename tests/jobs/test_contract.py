"""The pure contract: ids, keys, the queue message and the status document."""

from __future__ import annotations

import json

import pytest

from jobs.ids import InvalidJobId, check_job_id, is_job_id, new_job_id, parse_upload_key, result_key, upload_key
from jobs.message import InputKind, InvalidRatio, JobMessage, MessageError, UnsupportedVersion, parse_ratio
from jobs.outputs import JPEG, InvalidOutput, OutputFormat, parse_output
from jobs.status import JobError, JobResult, JobState, JobStatus

NOW = "2026-11-21T19:00:00.000Z"


def test_new_ids_are_uuid4_and_unique() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_job_id(i) for i in ids)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "../etc/passwd",
        "6f1c1f9e-8e4a-4b0e-9a3c-3d2b1c0a9e8",  # one digit short
        "6F1C1F9E-8E4A-4B0E-9A3C-3D2B1C0A9E8F",  # upper case is another spelling: refused
        "6f1c1f9e-8e4a-1b0e-9a3c-3d2b1c0a9e8f",  # uuid1, not 4
        "6f1c1f9e-8e4a-4b0e-9a3c-3d2b1c0a9e8f\n",
        "6f1c1f9e-8e4a-4b0e-9a3c-3d2b1c0a9e8f/x",
        None,
        42,
    ],
)
def test_only_canonical_uuid4_text_is_a_job_id(text: object) -> None:
    assert not is_job_id(text)
    with pytest.raises(InvalidJobId):
        check_job_id(text)


def test_keys_take_only_checked_ids_and_known_extensions() -> None:
    job_id = new_job_id()
    assert upload_key(job_id, "dng") == f"uploads/{job_id}.dng"
    assert result_key(job_id) == f"results/{job_id}.jpg"
    assert parse_upload_key(f"uploads/{job_id}.png") == (job_id, "png")
    with pytest.raises(ValueError):
        upload_key(job_id, "exe")
    with pytest.raises(InvalidJobId):
        upload_key("../../secret", "jpg")
    with pytest.raises(ValueError):
        parse_upload_key(f"results/{job_id}.jpg")


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("auto", None), ("", None), (None, None), ("1", 1.0), ("300", 300.0), ("12.5", 12.5), (100, 100.0)],
)
def test_parse_ratio_accepts_numbers_in_range_and_auto(text: object, ratio: float | None) -> None:
    assert parse_ratio(text) == ratio


@pytest.mark.parametrize("text", ["0", "0.99", "301", "abc", "nan", "inf", "-5", True, [1]])
def test_parse_ratio_refuses_the_rest(text: object) -> None:
    with pytest.raises(InvalidRatio):
        parse_ratio(text)


ACCEPTED_OUTPUTS = [
    (None, None, JPEG),
    ("", "", JPEG),
    ("png16", None, OutputFormat("png16")),
    ("tiff16", "", OutputFormat("tiff16")),
    ("jpeg", "80", OutputFormat("jpeg", 80)),
    (None, 80, OutputFormat("jpeg", 80)),
    ("jpeg", "100", OutputFormat("jpeg", 100)),
    ("jpeg", 1, OutputFormat("jpeg", 1)),
]
REFUSED_FORMATS = ["webp", "JPEG", {"a": 1}, ["jpeg"], [], 0, False]
REFUSED_QUALITIES = [0, 101, True, 80.5, 80.0, "-5", "\u00b2", "9" * 5000, [80], {"q": 80}]


@pytest.mark.parametrize(("name", "quality", "output"), ACCEPTED_OUTPUTS)
def test_parse_output_takes_form_text_and_json_values(name: object, quality: object, output: OutputFormat) -> None:
    assert parse_output(name, quality) == output


@pytest.mark.parametrize(
    ("name", "quality"),
    [(name, None) for name in REFUSED_FORMATS] + [("jpeg", q) for q in REFUSED_QUALITIES] + [("png16", 80)],
)
def test_parse_output_refuses_the_rest_with_a_reason(name: object, quality: object) -> None:
    with pytest.raises(InvalidOutput, match=r"format must be one of|quality"):
        parse_output(name, quality)


def make_message(**overrides: object) -> JobMessage:
    job_id = new_job_id()
    fields: dict[str, object] = {
        "job_id": job_id,
        "upload_key": upload_key(job_id, "dng"),
        "kind": InputKind.RAW,
        "ratio": 100.0,
        "submitted_at": NOW,
    }
    return JobMessage(**{**fields, **overrides})  # type: ignore[arg-type]


def test_message_round_trips() -> None:
    message = make_message()
    assert JobMessage.from_json(message.to_json()) == message
    auto = make_message(ratio=None)
    assert json.loads(auto.to_json())["options"]["ratio"] == "auto"
    assert JobMessage.from_json(auto.to_json()) == auto


def test_unknown_message_version_is_refused_not_guessed() -> None:
    data = json.loads(make_message().to_json())
    data["version"] = 2
    with pytest.raises(UnsupportedVersion):
        JobMessage.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(id="not-an-id"),
        lambda d: d.update(upload_key=f"uploads/{new_job_id()}.dng"),  # another job's upload
        lambda d: d.update(upload_key="uploads/../../x.dng"),
        lambda d: d.update(kind="video"),
        lambda d: d["options"].update(ratio=1000),
        lambda d: d.pop("submitted_at"),
        lambda d: d.update(options="fast"),
    ],
)
def test_malformed_messages_are_refused(mutate: object) -> None:
    data = json.loads(make_message().to_json())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(MessageError):
        JobMessage.from_json(json.dumps(data))


def test_a_messages_outputs_default_to_jpeg_and_are_written_out() -> None:
    data = json.loads(make_message().to_json())
    assert data["options"]["outputs"] == ["jpeg"] and data["version"] == 1
    del data["options"]["outputs"]  # a producer that says nothing about outputs
    assert JobMessage.from_json(json.dumps(data)).output == JPEG


@pytest.mark.parametrize("outputs", [["png"], ["jpeg", "tiff"], [], "jpeg"])
def test_a_message_asking_for_outputs_this_worker_cannot_make_is_refused(outputs: object) -> None:
    data = json.loads(make_message().to_json())
    data["options"]["outputs"] = outputs
    with pytest.raises(MessageError, match=r"unknown outputs|format must be one of"):
        JobMessage.from_json(json.dumps(data))


@pytest.mark.parametrize("body", ["", "[]", "{", "null", '"text"'])
def test_non_object_messages_are_refused(body: str) -> None:
    with pytest.raises(MessageError):
        JobMessage.from_json(body)


def test_status_moves_through_its_states_and_keeps_stage_times() -> None:
    job_id = new_job_id()
    queued = JobStatus.new(job_id, InputKind.SRGB, None, NOW)
    assert queued.state is JobState.QUEUED and not queued.state.terminal
    started = queued.processing("worker-1", attempt=1, now="2026-11-21T19:00:01.000Z")
    result = JobResult(key=result_key(job_id), width=600, height=400, bytes=12345)
    done = started.done(result, 42.0, "baseline", {"enhance": 0.5}, now="2026-11-21T19:00:03.000Z")
    assert done.state.terminal
    assert list(done.stages) == ["queued", "processing", "done"]
    assert done.stages["queued"] == NOW and done.updated_at == "2026-11-21T19:00:03.000Z"
    assert JobStatus.from_json(done.to_json()) == done


def test_a_retried_job_keeps_the_first_time_it_entered_each_state() -> None:
    queued = JobStatus.new(new_job_id(), InputKind.RAW, 50.0, NOW)
    first = queued.processing("w1", 1, "2026-11-21T19:00:01.000Z")
    again = first.requeued("attempt 1 failed", "2026-11-21T19:00:02.000Z").processing(
        "w2", 2, "2026-11-21T19:00:09.000Z"
    )
    assert again.stages["processing"] == "2026-11-21T19:00:01.000Z"
    assert again.worker == "w2" and again.attempts == 2 and again.note is None
    failed = again.failed(JobError("corrupt-input", "the file is damaged"), "2026-11-21T19:00:10.000Z")
    assert JobStatus.from_json(failed.to_json()).error == JobError("corrupt-input", "the file is damaged")
