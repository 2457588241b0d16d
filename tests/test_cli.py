"""The darkroom command on files, no servers."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from api.access import AccessSettings
from darkroom.cli.main import build_parser, main
from jobs.webhook import signing_secret


def brightness(path: Path) -> float:
    return float(np.asarray(Image.open(path).convert("L")).mean())


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("up", "enhance", "sample", "simulate", "soak", "key", "deploy"):
        assert command in out
    assert set(build_parser()._subparsers._group_actions[0].choices) >= {"up", "enhance", "sample"}  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["dark.dng", "dark.jpg", "dark.png"])
def test_sample_then_enhance_gives_a_brighter_jpeg(tmp_path: Path, name: str) -> None:
    sample = tmp_path / name
    assert main(["sample", str(sample), "--exposure", "0.02"]) == 0
    out = tmp_path / "bright.jpg"
    assert main(["enhance", str(sample), "-o", str(out)]) == 0
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    if name.endswith(".dng"):
        assert Image.open(out).size == (2304, 1536)
    else:
        assert brightness(out) > 4 * brightness(sample)
    assert brightness(out) > 60


def test_enhance_many_files_into_a_folder_and_report_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    main(["sample", str(good)])
    bad = tmp_path / "b.jpg"
    bad.write_text("not a photo")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (3, 3, 3)).save(buf, "PNG")
    (tmp_path / "c.png").write_bytes(buf.getvalue())
    out = tmp_path / "out"
    code = main(["enhance", str(good), str(bad), str(tmp_path / "c.png"), "-o", str(out), "--ratio", "20"])
    assert code == 1  # one failure
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "c.jpg"]


def test_enhance_refuses_a_bad_ratio(tmp_path: Path) -> None:
    sample = tmp_path / "x.png"
    main(["sample", str(sample)])
    assert main(["enhance", str(sample), "--ratio", "1000"]) == 2


def test_key_prints_a_key_and_the_hash_the_api_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key"]) == 0
    fields = {
        name.rstrip(":"): value for name, value in (line.split() for line in capsys.readouterr().out.splitlines())
    }
    assert fields["key"].startswith("drk_")
    assert hashlib.sha256(fields["key"].encode()).hexdigest() == fields["hash"]
    assert AccessSettings(key_hashes=(fields["hash"],), require_key=True).key_hashes == (fields["hash"],)


def test_key_prints_the_keys_own_webhook_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DARKROOM_WEBHOOK_SECRET", "server-secret")
    assert main(["key"]) == 0
    fields = dict(line.split(": ") for line in capsys.readouterr().out.splitlines())
    assert fields["webhook-secret"] == signing_secret("server-secret", fields["hash"]) != "server-secret"
