"""A coordinator opens a case from the board and puts it on hold, in Debian's headless
Chromium against a real uvicorn server, a real database and real Prefect flow runs."""

from __future__ import annotations

import pytest

from .test_browser import _log_in, browser, live  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def test_open_a_case_from_the_board_and_hold_it(browser, live):  # noqa: F811
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    _log_in(page, live)
    assert page.locator('a[data-knr="1836"]').count() == 0
    page.click("main >> text=Ny sak")
    page.wait_for_url(f"{live}/ny-sak")
    assert page.locator("#newcase-date").input_value() == "2026-03-20"  # today
    # A date in the future first: the form comes back with the field marked, choice kept.
    page.select_option("#newcase-kommunenummer", "1836")
    page.fill("#newcase-date", "23.03.2026")
    page.click("#newcase button[type=submit]")
    assert page.locator("#newcase-date").get_attribute("aria-invalid") == "true"
    assert "frem i tid" in page.locator("#err-date").inner_text()
    assert page.locator("#newcase-kommunenummer").input_value() == "1836"

    page.fill("#newcase-date", "16.03.2026")
    page.click("#newcase button[type=submit]")
    page.wait_for_url(f"{live}/sak/1836")
    flash = page.locator(".flash").inner_text()
    assert "Sak åpnet for Rødøy (1836)." in flash and "Neste frist:" in flash
    assert "Fase Førstekontakt siden 16. mars 2026 · Aktiv" in page.locator(".lead").inner_text()

    page.fill("#hold-reason", "Venter på ny kommunedirektør")
    page.click("form[action='/sak/1836/vent'] button[type=submit]")
    page.wait_for_url(f"{live}/sak/1836")
    assert "· På vent siden 20. mars 2026" in page.locator(".lead").inner_text()
    assert page.locator("text=Satt på vent: Venter på ny kommunedirektør").count() == 1
    assert page.locator("form[action='/sak/1836/gjenoppta']").count() == 1
    assert page.locator("form[action='/sak/1836/vent']").count() == 0

    page.click("nav >> text=Oversikt")
    page.wait_for_url(f"{live}/")
    card = page.locator('section[data-stage="first_contact"] a[data-knr="1836"]')
    assert card.count() == 1 and "På vent" in card.inner_text()
