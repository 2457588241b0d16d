"""``darkroom simulate`` from the command line: its help, and a small run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from darkroom.cli.main import main

INPUTS = (
    "--per-day", "--pattern", "--csv", "--hours", "--raw-fraction", "--peak-to-mean", "--photos-per-burst",
    "--burst-gap-seconds", "--instance-type", "--on-demand", "--cpu-instance-type", "--method", "--raw-seconds",
    "--jpeg-seconds", "--boot-seconds", "--interruptions-per-hour", "--defaults", "--prices", "--max-workers",
    "--idle-seconds", "--min-workers", "--prewarm-lead", "--jobs-per-worker", "--idle-grid", "--pool-grid",
    "--try-prewarm-lead", "--p95-target", "--plot", "--against-emulator",
)  # fmt: skip


def test_help_explains_every_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in INPUTS:
        assert option in out, option
    for words in ("SimPy", "prices.json", "defaults.json", "Pareto", "serverless"):
        assert words in out


def test_a_small_run_prints_the_tables_and_writes_the_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "cost.png"
    args = ["simulate", "--per-day", "200", "--hours", "4", "--idle-grid", "60,600", "--pool-grid", "1,2"]
    assert main([*args, "--processes", "1", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    for words in ("p95 s", "$/1000 img", "recommended", "always-on GPU", "always-on CPU", "serverless CPU", "GB-s"):
        assert words in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
