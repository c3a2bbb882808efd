"""Contacts and the meeting plan in real headless Chromium, against a real uvicorn server
and real Prefect flow runs: adding a contact person on the case page (a refused e-mail
first), then uploading a meeting plan file from the case page's link to /moter."""

from __future__ import annotations

from datetime import date

import pytest

from .test_browser import _log_in, browser, live  # noqa: F401 - fixtures
from .web_support import to_political

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def test_add_a_contact_and_upload_a_meeting_plan(browser, live, sqlite_url,  # noqa: F811
                                                 tmp_path):
    to_political(sqlite_url, "1836", date(2026, 3, 2))
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live)
    page.goto(f"{live}/sak/1836")

    # A mistyped e-mail: the form comes back open with the field marked and what was typed.
    page.locator("#contact-new summary").click()
    page.fill("#contact-new-name", "Kari Nordmann")
    page.fill("#contact-new-role", "kommunedirektør")
    page.fill("#contact-new-email", "kari@rodoy")
    page.locator("#contact-new button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#contact-new-email").get_attribute("aria-invalid") == "true"
    assert "ikke en gyldig e-postadresse" in page.locator("#err-email").inner_text()
    assert page.locator("#contact-new-name").input_value() == "Kari Nordmann"

    page.fill("#contact-new-email", "kari@rodoy.example")
    page.fill("#contact-new-phone", "+47 912 34 567")
    page.locator("#contact-new button[type=submit]").click()
    page.wait_for_url(f"{live}/sak/1836")
    assert "Kontaktperson lagt til for Rødøy." in page.locator(".flash").inner_text()
    assert "Kari Nordmann, kommunedirektør (primær)" in page.locator(".contact").inner_text()

    # The meeting plan, from the case page's link.
    plan = tmp_path / "moteplan.csv"
    plan.write_text("kommunenummer;organ;dato;tittel\n"
                    "1836;formannskap;04.06.2026;Formannskapet i Rødøy\n"
                    "1836;kommunestyre;18.06.2026;Kommunestyret i Rødøy\n"
                    "18;fylkesting;16.06.2026;Fylkestinget i Nordland\n", encoding="utf-8")
    page.get_by_role("link", name="Møteplanen for Rødøy").click()
    page.wait_for_url(f"{live}/moter?kommune=1836")
    page.set_input_files("#plan-upload-file", str(plan))
    page.locator("#plan-upload button[type=submit]").click()
    page.wait_for_url(f"{live}/moter?kommune=1836")
    flash = page.locator(".flash").inner_text()
    assert "Importerte 3 møter fra moteplan.csv." in flash
    listed = page.locator("section[aria-labelledby=list-heading]")
    text = listed.first.inner_text()
    assert "4. juni 2026: Formannskapet – Formannskapet i Rødøy" in text
    assert "16. juni 2026: Fylkeskommunen – Fylkestinget i Nordland" in text
    # The case now plans its saksframlegg against the formannskap's meeting.
    page.goto(f"{live}/sak/1836")
    assert "4. juni 2026: Formannskapet" in page.content()
