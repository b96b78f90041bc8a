"""Open WebUI, the most used self-hosted chat frontend, over the real stack, driven in a real headless browser.

Open WebUI (the pinned PyPI release, `make e2e` installs it into ``.venv-webui``) runs with its default settings,
pointed at ragstream's ``/v1`` through its OpenAI connection variables, offline, on 127.0.0.1, with a fresh data
folder. Debian's Chromium, driven by Playwright's Python package (never ``playwright install``), picks the
``ragstream`` model, asks a question the index answers, and must see the streamed answer and its source in Open
WebUI's own Sources panel (from the ``url_citation`` annotations). Every request the page makes to a host other
than 127.0.0.1 is refused. Open WebUI's own requests for a title, tags and follow-ups must not run retrieval.
It runs only with ``OPEN_WEBUI_E2E=1``: ``make e2e`` installs what it needs and sets it (``.ci/run`` too, when
that variable is set); elsewhere it is skipped. The screenshot lands in ``.ragstream/e2e/open-webui.png``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from ragstream.infra.local.process import ServerProcess, free_port, http_status
from testkit.api import ACME, produce_one

pytestmark = [pytest.mark.stack, pytest.mark.skipif(os.environ.get("OPEN_WEBUI_E2E") != "1",
                                                   reason="the browser test runs with OPEN_WEBUI_E2E=1 (`make e2e`)")]

ROOT = Path(__file__).resolve().parents[1]
OPEN_WEBUI = ROOT / ".venv-webui" / "bin" / "open-webui"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / ".ragstream" / "e2e" / "open-webui.png"
QUESTION = "How often must the Aurora-5 kiln be recalibrated?"
TITLE = "Aurora-5 kiln maintenance"
# The Chromium flags that keep it from calling home (this machine refuses those connections, many at a time).
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def counted(url: str, series: str) -> float:
    """The value of one series in the API's Prometheus text (0 before its first observation)."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", httpx.get(f"{url}/metrics", timeout=30).text, re.M)
    return float(found[1]) if found else 0.0


def stage_count(url: str, stage: str) -> float:
    return counted(url, f'ragstream_stage_ms_count{{stage="{stage}"}}')


def chat_requests(url: str) -> float:
    return counted(url, 'ragstream_http_requests_total{route="/v1/chat/completions",status="200"}')


@pytest.fixture(scope="module")
def indexed(query_stack):
    settings, url = query_stack
    produce_one(settings, "acme", "aurora-kiln", 1, "The Aurora-5 kiln must be recalibrated every 300 firings. "
                "Recalibration takes about two hours and needs the reference cone set.", TITLE)
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/v1/documents/aurora-kiln", headers={"Authorization": f"Bearer {ACME}"},
                    timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the document was not indexed within 120 s"
        time.sleep(0.5)
    return url


@pytest.fixture(scope="module")
def open_webui(indexed, tmp_path_factory):
    assert OPEN_WEBUI.exists() and CHROMIUM.exists(), \
        "`make e2e` installs Open WebUI into .venv-webui and needs Debian's chromium (/usr/bin/chromium)"
    port, data = free_port(), tmp_path_factory.mktemp("open-webui")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTREAM_")} | {
        "DATA_DIR": str(data), "HOST": "127.0.0.1", "PORT": str(port), "WEBUI_AUTH": "False",
        "WEBUI_SECRET_KEY": "e2e-only", "OFFLINE_MODE": "True", "HF_HUB_OFFLINE": "1",
        "ENABLE_OLLAMA_API": "False", "ENABLE_OPENAI_API": "True",
        "OPENAI_API_BASE_URL": f"{indexed}/v1", "OPENAI_API_KEY": ACME,
        # its own document search is not used here (ragstream is the retrieval); an API engine means no local
        # embedding model is loaded at start
        "RAG_EMBEDDING_ENGINE": "openai", "RAG_OPENAI_API_BASE_URL": "http://127.0.0.1:9/v1",
        "RAG_OPENAI_API_KEY": "unused", "ANONYMIZED_TELEMETRY": "False", "DO_NOT_TRACK": "True",
        "SCARF_NO_ANALYTICS": "True", "ENABLE_VERSION_UPDATE_CHECK": "False"}
    base = f"http://127.0.0.1:{port}"
    server = ServerProcess("open-webui", [str(OPEN_WEBUI), "serve", "--host", "127.0.0.1", "--port", str(port)],
                           data / "open-webui.log", ready=lambda: http_status(f"{base}/health") == 200, env=env,
                           ready_timeout_s=300, inherit_env=False)
    try:
        server.start()
        yield base, indexed
    finally:
        server.stop(timeout_s=30)


def ask_and_open_the_sources(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(base)
    welcome = page.get_by_role("button", name="Okay, Let's Go!")  # the release notes, shown on a first visit
    try:
        welcome.click(timeout=15_000)
    except Exception:
        pass
    selector = page.locator('button[id^="model-selector-"][id$="-button"]').first
    selector.click()
    page.locator("#model-search-input").fill("ragstream")
    page.locator('[id^="model-option-"]').filter(has_text="ragstream").first.click()
    expect(selector).to_contain_text("ragstream")

    page.locator("#chat-input").click()
    page.keyboard.type(QUESTION)
    page.locator("#send-message-button").click()

    answer = page.locator("#response-content-container").last
    expect(answer).to_contain_text("300", timeout=240_000)
    toggle = page.get_by_role("button", name=re.compile(r"Toggle \d+ sources?"))
    expect(toggle).to_be_visible(timeout=60_000)
    toggle.first.click()
    expect(page.get_by_role("button", name=re.compile(f"View source: {TITLE}"))).to_be_visible()


def test_open_webui_streams_the_answer_and_shows_its_source_in_its_sources_panel(open_webui):
    from playwright.sync_api import sync_playwright

    base, api = open_webui
    retrievals, chats = stage_count(api, "retrieval"), chat_requests(api)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=QUIET)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def loopback_only(route):
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                return route.continue_()
            return route.abort()

        page.route("**/*", loopback_only)
        page.set_default_timeout(120_000)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        try:
            ask_and_open_the_sources(page, base)
        except Exception:
            page.screenshot(path=str(SCREENSHOT.with_name("failed.png")))
            raise
        page.screenshot(path=str(SCREENSHOT))

        # once the answer is done Open WebUI asks the same model for a title, tags and follow-ups: three more chat
        # requests, none of which may run retrieval
        deadline = time.monotonic() + 240
        while chat_requests(api) < chats + 4 and time.monotonic() < deadline:
            time.sleep(1)
        browser.close()
    assert chat_requests(api) == chats + 4, "the question, then Open WebUI's title, tags and follow-ups requests"
    assert stage_count(api, "retrieval") == retrievals + 1, "only the question ran retrieval"
