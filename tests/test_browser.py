"""The dashboard in Debian's headless Chromium (Playwright), against a real uvicorn server,
a real database and real Prefect flow runs. Never `playwright install`: the browser is the
system's /usr/bin/chromium."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from .conftest import IN_CI
from .web_support import PASSWORD, make_user, record, to_political

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium is missing at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live(sqlite_url, monkeypatch, prefect_server):
    """The dashboard on a free port of 127.0.0.1, served by uvicorn in a thread."""
    import uvicorn

    from avtaleflyt.web.app import create_app

    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-03-20")
    make_user(sqlite_url)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/")
    assert "/logg-inn" in page.url
    page.fill("#username", "kari")
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_record_council_decision_moves_the_card(browser, live, sqlite_url, tmp_path):
    to_political(sqlite_url, "1836", date(2026, 3, 2))
    record(sqlite_url, "1836", "county-decision", date(2026, 3, 18), outcome="approved")
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _log_in(page, live)
    political = page.locator('section[data-stage="political_approval"] a[data-knr="1836"]')
    assert political.count() == 1
    political.click()
    page.wait_for_url(f"{live}/sak/1836")

    # The county has decided, so the council's decision is the one preselected; the
    # outcome is chosen by its Norwegian word.
    assert page.locator("#fact-fact").input_value() == "council-decision"
    assert "Første møte" not in page.locator("#fact-fact").inner_text()
    # An invalid date first: the same form comes back with the field marked.
    page.select_option("#fact-outcome", "vedtatt")
    page.fill("#fact-date", "31.02.2026")
    page.click("#fact-form button[type=submit]")
    assert page.locator("#fact-date").get_attribute("aria-invalid") == "true"
    assert "finnes ikke" in page.locator("#err-date").inner_text()
    assert page.locator("#fact-outcome").input_value() == "vedtatt"  # input kept
    assert page.locator("text=finnes ikke").count() == 1  # the refusal, once

    page.fill("#fact-date", "19.03.2026")
    page.fill("#fact-reference", "PS 12/26")
    page.click("#fact-form button[type=submit]")
    page.wait_for_url(f"{live}/sak/1836")
    assert "Ny fase: Avtaleinngåelse" in page.locator(".flash").inner_text()
    page.click("nav >> text=Oversikt")
    page.wait_for_url(f"{live}/")
    assert page.locator('section[data-stage="contract_signing"] a[data-knr="1836"]').count() == 1
    assert page.locator('section[data-stage="political_approval"] a[data-knr="1836"]').count() == 0

    for path in ("/restanser", "/frister", "/statistikk"):
        page.goto(live + path)
        assert page.locator("h1").count() == 1
    assert requests and all(u.startswith(live + "/") for u in requests), \
        [u for u in requests if not u.startswith(live + "/")]


def test_the_fact_form_shows_the_chosen_facts_fields(browser, live, sqlite_url):
    from .web_support import open_case

    open_case(sqlite_url, "1837", date(2026, 3, 2))
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    _log_in(page, live)
    page.goto(f"{live}/sak/1837")
    assert page.locator("#fact-fact").input_value() == "meeting-held"
    situation = page.locator("#fact-situation")
    assert not situation.is_visible() and situation.is_disabled()
    assert page.locator("#fact-reference").is_visible()  # every first-contact fact has it
    page.select_option("#fact-fact", "needs-assessed")
    assert situation.is_visible() and not situation.is_disabled()
    # The label sits above its field.
    label = page.locator('label[for="fact-situation"]').bounding_box()
    field = situation.bounding_box()
    assert label and field and label["y"] + label["height"] <= field["y"] + 1


def test_phone_viewport(browser, live, sqlite_url, tmp_path):
    to_political(sqlite_url, "1836", date(2026, 3, 2))
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _log_in(page, live)
    for path in ("/", "/sak/1836", "/statistikk"):
        page.goto(live + path)
        # Nothing wider than the phone except what scrolls inside its own box.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        shot = tmp_path / f"phone{path.replace('/', '_')}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(u.startswith(live + "/") for u in requests)
