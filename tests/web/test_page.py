"""The demo page in a real browser (Debian's chromium, driven by Playwright) against the real stack.

moto, the API under uWSGI and one worker, as ``make run`` starts them. The
page must warm a worker before anything is uploaded, take a JPEG (multipart)
and a DNG (direct to storage), show each result with a working before/after
control, and explain a text file named .jpg in words. Screenshots of the page
at rest and with a result go to artifacts/web/ (gitignored).

The original React frontend, on an origin of its own, uploads through the
legacy routes with the request its axios call makes: multipart ``image`` and
``ratio``, a custom ``credentials`` request header and ``withCredentials``
(so chromium preflights it), then polls ``/download`` until the JPEG comes.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

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


# What the original frontend's axios calls do in a browser (axios sends through XMLHttpRequest there).
FRONTEND_PAGE = b"""<!doctype html><meta charset="utf-8"><title>original frontend</title><script>
function call(method, url, body, responseType) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.withCredentials = true;
    xhr.setRequestHeader("credentials", "include");
    xhr.responseType = responseType;
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error(method + " " + url + " was blocked (CORS) or failed"));
    xhr.send(body);
  });
}
async function upload(api, jpegBase64, ratio) {
  const bytes = Uint8Array.from(atob(jpegBase64), (c) => c.charCodeAt(0));
  const form = new FormData();
  form.append("image", new Blob([bytes], {type: "image/jpeg"}), "night.jpg");
  form.append("ratio", ratio);
  const sent = await call("POST", api + "/upload", form, "text");
  if (sent.status !== 200) throw new Error("upload answered " + sent.status + ": " + sent.response);
  const name = sent.response.trim();
  for (let polls = 0; polls < 180; polls++) {  // 90 s at most
    const got = await call("GET", api + "/download?fileName=" + encodeURIComponent(name), null, "blob");
    if (got.status === 200) return {name, type: got.response.type, bytes: got.response.size};
    if (got.status !== 404) throw new Error("download answered " + got.status);
    await new Promise((wait) => setTimeout(wait, 500));
  }
  throw new Error("the result never came");
}
</script>"""


@pytest.fixture(scope="module")
def frontend() -> Iterator[str]:
    """The original frontend's origin: a server of its own on another port, serving FRONTEND_PAGE."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(FRONTEND_PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(frontend: str) -> Iterator[LocalStack]:
    stack = start_stack(workers=1, DARKROOM_CORS_ORIGINS=frontend)
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


def test_the_original_frontend_uploads_from_its_own_origin(
    stack: LocalStack, browser: sync_api.Browser, frontend: str
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(frontend)
    jpeg = base64.b64encode(dark_jpeg(480, 360, exposure=1 / 8)).decode()
    got = page.evaluate("([api, jpeg]) => upload(api, jpeg, '100')", [stack.config.api_url, jpeg])
    assert got["type"] == "image/jpeg" and got["bytes"] > 1000, got
    status = requests.get(f"{stack.config.api_url}/v1/jobs/{got['name']}", timeout=10).json()
    assert status["status"] == "done" and status["ratio"] == 100
    assert errors == []
