"""Issue 14 in the dashboard, in real headless Chromium against a real uvicorn server and
real Prefect flow runs: moving and cancelling a meeting (with the warning for a holiday),
and changing the case's responsibility split row by row."""

from __future__ import annotations

from datetime import date

import pytest

from avtaleflyt import db
from avtaleflyt.services import meetings

from .conftest import ctx_for
from .test_browser import _log_in, browser, live  # noqa: F401 - fixtures
from .web_support import to_political

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def test_meeting_move_cancel_and_split_forms(browser, live, sqlite_url):  # noqa: F811
    to_political(sqlite_url, "1836", date(2026, 3, 2))
    with db.session_scope(sqlite_url) as s:
        for on in (date(2026, 6, 18), date(2026, 9, 24)):
            meetings.add_meeting(session=s, kommunenummer="1836", body="kommunestyre", on=on,
                                 title=None, ctx=ctx_for(date(2026, 3, 20)))
        june = next(m["id"] for m in meetings.list_meetings(s, "1836")
                    if m["date"] == "2026-06-18")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live)
    page.goto(f"{live}/sak/1836")

    # A date that does not exist: the same form comes back with the field marked.
    row = page.locator(f"#meeting-{june}")
    row.locator("summary").click()
    page.fill(f"#meeting-{june}-date", "31.02.2026")
    row.locator("button", has_text="Flytt møtet").click()
    assert page.locator(f"#meeting-{june}-date").get_attribute("aria-invalid") == "true"
    assert "finnes ikke" in page.locator("#err-date").inner_text()

    # Moved to 17 May (a Sunday and Grunnlovsdag): accepted, with a warning naming the day.
    page.fill(f"#meeting-{june}-date", "17.05.2026")
    page.locator(f"#meeting-{june} button", has_text="Flytt møtet").click()
    page.wait_for_url(f"{live}/sak/1836")
    flash = page.locator(".flash").inner_text()
    assert "Møtet i kommunestyret 18. juni ble flyttet til 17. mai" in flash
    assert "Advarsel" in flash and "Grunnlovsdag" in flash
    assert "Møtet i kommunestyret 18. juni ble flyttet til 17. mai" in page.content()

    # Cancelling needs the box ticked; then the decision moves to September.
    page.locator(f"#meeting-{june} summary").click()
    page.locator(f"#meeting-{june} button", has_text="Avlys møtet").click()
    assert "bekrefte" in page.locator("#err-confirm").inner_text()
    assert page.locator(f"#meeting-{june} details").get_attribute("open") is not None
    page.check(f"#meeting-{june}-confirm")
    page.locator(f"#meeting-{june} button", has_text="Avlys møtet").click()
    page.wait_for_url(f"{live}/sak/1836")
    assert "ble avlyst" in page.locator(".flash").inner_text()
    assert page.locator(f"#meeting-{june}").count() == 0

    # The split: row 2 to the municipality, and a new row.
    page.select_option("#split-2-responsible", "municipality")
    page.locator("#split-2 button[value=set]").click()
    page.wait_for_url(f"{live}/sak/1836")
    assert "rad 2 endret" in page.locator(".flash").inner_text()
    assert page.locator("#split-2-responsible").input_value() == "municipality"
    page.fill("#split-add-task", "   ")
    page.locator("#split-add button[type=submit]").click()
    assert page.locator("#split-add-task").get_attribute("aria-invalid") == "true"
    page.fill("#split-add-task", "Skolebibliotekene i kommunen")
    page.select_option("#split-add-responsible", "municipality")
    page.locator("#split-add button[type=submit]").click()
    page.wait_for_url(f"{live}/sak/1836")
    assert page.locator("#split-13-task").input_value() == "Skolebibliotekene i kommunen"
