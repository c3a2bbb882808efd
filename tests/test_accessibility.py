"""Accessibility of every dashboard page, in Debian's headless Chromium (Playwright) against
a real uvicorn server and a real database: axe-core (shipped inside the PyPI package
`axe-playwright-python`, so it runs offline) finds no violation of impact serious or
critical at a desktop and a phone size, and on the phone nothing needs sideways scrolling.

Page views render only: nothing here submits a form that starts a flow run, so no Prefect
server is needed (the forms themselves are exercised in test_browser.py and the web tests).
"""

from __future__ import annotations

from datetime import date

import pytest

from .test_browser import _free_port, browser  # noqa: F401 - fixture
from .web_support import PASSWORD, make_user, open_case, record, to_political, to_setup

# Every page of the dashboard, as a user reaches it (the login page logged out, the rest
# logged in as a Nordland coordinator). Add a new page here and both tests check it.
PAGES: list[tuple[str, str]] = [
    ("Logg inn", "/logg-inn"),
    ("Oversikt", "/"),
    ("Oversikt, trenger oppfølging", "/?oppfolging=1"),
    ("Sak i systemoppsett (oppgaver med «Gjort»)", "/sak/1836"),
    ("Sak i avtaleinngåelse (avtalevilkår, grenseoppgang)", "/sak/1837"),
    ("Mine oppgaver", "/mine-oppgaver"),
    ("Mine oppgaver med kommunenes", "/mine-oppgaver?alle=1"),
    ("Restanser", "/restanser"),
    ("Restanser per person", "/restanser?gruppering=person"),
    ("Kommende frister", "/frister"),
    ("Statistikk", "/statistikk"),
    ("Min side", "/min-side"),
    ("Ny sak", "/ny-sak"),
    ("Møteplan", "/moter"),
    ("Møteplan for én kommune", "/moter?kommune=1836"),
    ("JSON-API-referanse", "/api/v1/docs"),
    ("Feilside", "/finnes-ikke"),
]
LOGGED_OUT = {"/logg-inn"}

DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
TODAY = date(2026, 6, 15)
BLOCKING = ("serious", "critical")

pytestmark = [pytest.mark.browser]


@pytest.fixture
def site(sqlite_url, monkeypatch):
    """Cases in several stages (one in system setup, one in contract signing with contacts
    and a meeting, one stuck in first contact with overdue tasks), a user with a calendar
    feed, and the dashboard on a free port, served by uvicorn in a thread."""
    import threading
    import time

    import uvicorn

    from avtaleflyt import db
    from avtaleflyt.services import meetings, people, users
    from avtaleflyt.web.app import create_app

    from .conftest import ctx_for

    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    to_setup(sqlite_url, "1836")
    to_political(sqlite_url, "1837", date(2026, 3, 2))
    record(sqlite_url, "1837", "council-decision", date(2026, 4, 23), outcome="approved")
    record(sqlite_url, "1837", "county-decision", date(2026, 5, 5), outcome="approved")
    open_case(sqlite_url, "1838", date(2026, 1, 5))
    make_user(sqlite_url)
    with db.session_scope(sqlite_url) as s:
        for knr in ("1836", "1837"):
            people.add_contact(session=s, kommunenummer=knr, name="Kari Nordmann",
                               role="kommunedirektør", email=f"kari.{knr}@example.org",
                               phone="+47 900 00 000", primary=True, ctx=ctx_for(TODAY))
        meetings.add_meeting(session=s, kommunenummer="1837", body="kommunestyre",
                             on=date(2026, 9, 17), title=None, ctx=ctx_for(TODAY))
        users.issue_feed_token(session=s, username="kari")
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


def _pages(browser, base: str, viewport: dict):
    """(name, path, page) for every page of PAGES, each loaded in a page of the right
    context (logged out for the login page)."""
    mobile = viewport is PHONE
    anonymous = browser.new_context(viewport=viewport, is_mobile=mobile)
    user = browser.new_context(viewport=viewport, is_mobile=mobile)
    login = user.new_page()
    login.goto(f"{base}/logg-inn")
    login.fill("#username", "kari")
    login.fill("#password", PASSWORD)
    login.click("form.stack button[type=submit]")
    login.wait_for_url(f"{base}/")
    login.close()
    try:
        for name, path in PAGES:
            page = (anonymous if path in LOGGED_OUT else user).new_page()
            response = page.goto(base + path)
            assert response is not None
            if path == "/finnes-ikke":
                assert response.status == 404
            else:
                assert response.status == 200, (path, response.status)
                assert "/logg-inn" not in page.url or path in LOGGED_OUT, path
            yield name, path, page
            page.close()
    finally:
        anonymous.close()
        user.close()


def _blocking(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for v in results.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]
            found.append(f'{v["id"]} ({v["impact"]}): {v["help"]} – {targets}')
    return found


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366x800", "390x844"])
def test_no_serious_or_critical_axe_violations_on_any_page(browser, site, viewport):
    problems: dict[str, list[str]] = {}
    checked = 0
    for name, path, page in _pages(browser, site, viewport):
        # Every closed "Rett eller slett"/"Flytt eller avlys" is opened, so the forms
        # inside are checked too.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        if found := _blocking(page):
            problems[f"{name} ({path})"] = found
        checked += 1
        if path == "/min-side":  # the page that shows a new feed address once
            page.click("text=Lag ny kalenderadresse")
            page.wait_for_selector("#feed-url")
            if found := _blocking(page):
                problems["Min side med ny kalenderadresse"] = found
    assert checked == len(PAGES)
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())


def test_phone_needs_no_sideways_scrolling(browser, site):
    wide: dict[str, int] = {}
    for name, path, page in _pages(browser, site, PHONE):
        inner, scroll = page.evaluate(
            "[window.innerWidth, document.documentElement.scrollWidth]")
        assert inner == PHONE["width"], (path, inner)
        if scroll > inner:
            wide[f"{name} ({path})"] = scroll
        if path.startswith("/sak/"):
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            outside = page.evaluate("""() => [...document.querySelectorAll('main button')]
                .filter(b => b.getClientRects().length)
                .map(b => [b.textContent.trim(), b.getBoundingClientRect()])
                .filter(([, r]) => r.left < 0 || r.right > window.innerWidth)
                .map(([t, r]) => `${t}: ${Math.round(r.left)}–${Math.round(r.right)}`)""")
            assert not outside, (path, outside)
            buttons = page.locator("main button:visible")
            assert buttons.count() > 0
            if path == "/sak/1836":  # the task table's «Gjort», inside the viewport
                done = page.locator("table button", has_text="Gjort")
                assert done.count() > 0
                box = done.first.bounding_box()
                assert box and 0 <= box["x"] and box["x"] + box["width"] <= inner
    assert not wide, f"Pages wider than the phone ({PHONE['width']} px): {wide}"


def test_the_check_finds_what_it_is_meant_to_find(browser):
    """The axe check is not vacuous: a field without a label and grey-on-grey text are
    reported as serious (offline, from the axe-core the package ships)."""
    page = browser.new_page(viewport=DESKTOP)
    page.set_content('<!doctype html><html lang="nb"><title>t</title><main>'
                     '<input name="x"><p style="color:#bbb;background:#ccc">Lite kontrast</p>'
                     '</main></html>')
    found = " ".join(_blocking(page))
    assert "label (critical)" in found and "color-contrast (serious)" in found
    page.close()


LABELS_ABOVE = """(form) => [...document.querySelectorAll(form + ' label[for]')]
    .filter(l => l.getClientRects().length)
    .map(l => [l, document.getElementById(l.htmlFor)])
    .filter(([l, f]) => f && !l.contains(f) && f.getClientRects().length)
    .map(([l, f]) => {
        const a = l.getBoundingClientRect(), b = f.getBoundingClientRect();
        return {label: l.textContent.trim(), gap: Math.round(b.top - a.bottom),
                left: Math.round(b.left - a.left)};
    })"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366x800", "390x844"])
def test_the_terms_form_puts_each_label_directly_above_its_field(browser, site, viewport):
    """The fact form with «Avtalevilkår er satt» chosen: every label sits right above its
    own field, flush left, so the price cannot go into the wrong box."""
    for _, path, page in _pages(browser, site, viewport):
        if path != "/sak/1837":
            continue
        page.select_option("#fact-fact", "terms-set")
        fields = page.evaluate(LABELS_ABOVE, "#fact-form")
        names = [f["label"] for f in fields]
        assert "Startdato" in names and len(fields) >= 5, names
        for f in fields:
            assert 0 <= f["gap"] <= 12 and abs(f["left"]) <= 2, f


def test_the_first_tab_reaches_the_skip_link_and_it_leads_to_the_content(browser, site):
    for name, path, page in _pages(browser, site, DESKTOP):
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.textContent.trim(), "
                                "document.activeElement.getAttribute('href')]")
        assert focused == ["Hopp til hovedinnhold", "#main"], (path, focused)
        box = page.locator("a.skip").bounding_box()
        assert box and box["y"] >= 0, (path, box)  # shown while focused
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", path
        if not page.locator("main :is(a[href], button, input, select, textarea)").count():
            continue  # nothing to reach in the content (e.g. an empty list)
        page.keyboard.press("Tab")  # the next stop is inside the content, not the menu
        inside = page.evaluate("document.getElementById('main')"
                               ".contains(document.activeElement)")
        assert inside, (path, page.evaluate("document.activeElement.outerHTML"))


def test_min_side_copies_the_new_feed_address(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, is_mobile=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.goto(f"{site}/min-side")
    page.fill("#username", "kari")
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{site}/min-side")
    assert page.locator("#feed-url").count() == 0
    page.click("text=Lag ny kalenderadresse")
    address = page.locator("#feed-url").input_value()
    assert address.startswith(f"{site}/kalender/") and address.endswith(".ics")
    page.get_by_role("button", name="Kopier adressen").click()
    expect(page.locator("#copy-status")).to_have_text("Adressen er kopiert.")
    assert page.evaluate("navigator.clipboard.readText()") == address
    page.goto(f"{site}/min-side")  # never shown again
    assert page.locator("#feed-url").count() == 0
    assert address.rsplit("/", 1)[1] not in page.content()
    context.close()
