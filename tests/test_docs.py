"""The README is a front door, and the links in it and in docs/ lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#:]+)(#[^)]*)?\)")  # relative links only (no scheme)


def test_the_readme_is_short_and_its_first_screen_runs_the_service_and_the_tests() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 150
    first_screen = "\n".join(lines[:40])
    assert "make run" in first_screen and "make test" in first_screen
    assert "/v1/jobs" in first_screen and "bright.jpg" in first_screen


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_resolve(page: Path) -> None:
    for target, _ in LINK.findall(page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
