"""The demo page in a real browser (Debian's chromium, driven by Playwright) against the real stack.

moto, the API under uWSGI and one worker, as ``make run`` starts them. The
page must warm a worker before anything is uploaded, take a JPEG (multipart)
and a DNG (direct to storage), show each result with a working before/after
control, and explain a text file named .jpg in words. Screenshots of the page
at rest and with a result go to artifacts/web/ (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from darkroom.dng import synthetic_dark_dng
from darkroom.local.stack import LocalStack
from tests.test_e2e import dark_jpeg, start_stack

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
RESULT_TIMEOUT_MS = 90_000

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: run `make system-tools` (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    stack = start_stack(workers=1)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def choose(page: sync_api.Page, name: str, mime: str, data: bytes) -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#go")


def wait_for_result(page: sync_api.Page) -> None:
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    loaded = "() => { const image = document.getElementById('after'); return image.complete && image.naturalWidth > 0 }"
    page.wait_for_function(loaded)  # the brightened JPEG really arrived from storage


def test_the_page_warms_then_brightens_a_jpeg_and_a_dng(stack: LocalStack, browser: sync_api.Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)  # a phone's screen
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append((request.method, request.url)))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(stack.config.api_url)
    page.wait_for_selector("#pool.ready")
    assert "ready" in page.inner_text("#pool")
    page.screenshot(path=str(ARTIFACTS / "at-rest.png"), full_page=True)
    api = stack.config.api_url
    assert ("POST", f"{api}/v1/warm") in sent  # warmed on load, before anything was chosen

    choose(page, "night.jpg", "image/jpeg", dark_jpeg(480, 360, exposure=1 / 8))
    wait_for_result(page)
    assert "Done" in page.inner_text("#stage")
    assert page.get_attribute("#download", "href") == page.get_attribute("#after", "src")
    page.fill("#split", "20")  # the before/after divider moves the clip
    assert "20%" in page.eval_on_selector("#after-clip", "e => e.style.clipPath")
    page.fill("#split", "75")
    assert "75%" in page.eval_on_selector("#after-clip", "e => e.style.clipPath")
    page.screenshot(path=str(ARTIFACTS / "with-result.png"), full_page=True)

    uploads_before = sum(1 for method, url in sent if method == "POST" and url == f"{api}/v1/uploads")
    choose(page, "night.dng", "image/x-adobe-dng", synthetic_dark_dng(256, 384))
    assert page.is_hidden("#result")  # the last result is put away while the next photo goes
    wait_for_result(page)
    assert page.is_visible("#before-placeholder")  # no RAW preview in a browser
    posts = [url for method, url in sent if method == "POST"]
    assert sum(1 for url in posts if url == f"{api}/v1/uploads") == uploads_before + 1  # the DNG went direct
    assert any(url.startswith(stack.aws.endpoint_url or "-") for url in posts)  # straight to storage
    page.screenshot(path=str(ARTIFACTS / "with-raw-result.png"), full_page=True)

    first_warm = sent.index(("POST", f"{api}/v1/warm"))
    first_upload = min(i for i, (m, url) in enumerate(sent) if m == "POST" and url.startswith(f"{api}/v1/jobs"))
    assert first_warm < first_upload

    choose(page, "notes.jpg", "image/jpeg", b"Shopping list: candles, matches.\n" * 20)
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "isn't a photo darkroom can read" in page.inner_text("#error")
    page.screenshot(path=str(ARTIFACTS / "error.png"), full_page=True)
    assert errors == []
    print(f"screenshots in {ARTIFACTS}")
