"""Two counties in one database: every page, form, feed and download shows a user their own
county only, in both directions; another county's case answers 404 exactly as a municipality
that does not exist. A national user sees both. Real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from icalendar import Calendar
from sqlmodel import func, select

from avtaleflyt import db
from avtaleflyt.models import Event
from avtaleflyt import runtime
from avtaleflyt.services import users
from avtaleflyt.services.documents import store_document

from .conftest import ctx_for
from .web_support import client, csrf_of, logged_in, make_user, open_case

TODAY = date(2026, 3, 20)
# (kommunenummer, name, county): one overdue and one upcoming case in each county.
NORDLAND = {"1836": "Rødøy", "1837": "Meløy"}
TROMS = {"5501": "Tromsø", "5544": "Nordreisa - Ráisa - Raisi"}


@pytest.fixture
def two_counties(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    for knr in ("1836", "5501"):
        open_case(db_url, knr, date(2026, 1, 5))  # first meeting overdue by today
    for knr in ("1837", "5544"):
        open_case(db_url, knr, date(2026, 3, 10))  # first meeting due within 30 days
    with db.session_scope(db_url) as s:
        for knr in (*NORDLAND, *TROMS):
            store_document(session=s, kind="agreement", ctx=ctx_for(TODAY), kommunenummer=knr)
    return db_url


def _events(url: str) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Event)).one()


LIST_PAGES = ["/", "/restanser", "/frister", "/statistikk"]


@pytest.mark.parametrize("home, own, other", [("18", NORDLAND, TROMS), ("55", TROMS, NORDLAND)])
def test_a_county_user_sees_only_their_county(two_counties, home, own, other):
    c = logged_in(two_counties, f"bruker{home}", county=home)
    pages = {p: c.get(p) for p in LIST_PAGES}
    for path, r in pages.items():
        assert r.status_code == 200, path
        for name in other.values():
            assert name not in r.text, (path, name)
    board = pages["/"].text
    assert all(name in board for name in own.values())
    overdue_name, upcoming_name = own.values()
    assert overdue_name in pages["/restanser"].text
    assert upcoming_name in pages["/frister"].text
    for knr in own:
        assert c.get(f"/sak/{knr}").status_code == 200
        assert c.get(f"/sak/{knr}/dokument/agreement/1.html").status_code == 200
    for knr, name in other.items():
        page = c.get(f"/sak/{knr}")
        assert page.status_code == 404 and name not in page.text
        assert c.get(f"/sak/{knr}/dokument/agreement/1.html").status_code == 404


def test_another_countys_case_looks_exactly_like_one_that_does_not_exist(two_counties):
    c = logged_in(two_counties, "kari", county="18")
    hidden = c.get("/sak/5501")
    missing = c.get("/sak/9999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace("5501", "X") == missing.text.replace("9999", "X")


@pytest.mark.parametrize("path, data", [
    ("/sak/5501/notat", {"theme": "engagement", "text": "Skal ikke lagres"}),
    ("/sak/5501/fakta", {"fact": "meeting-held", "date": "2026-03-18"}),
    ("/sak/5501/vent", {"reason": "Skal ikke lagres"}),
    ("/sak/5501/gjenoppta", {}),
    ("/sak/5501/oppgave", {"task_id": "1"}),
])
def test_forms_on_another_countys_case_change_nothing(two_counties, path, data):
    c = logged_in(two_counties, "kari", county="18")
    token = csrf_of(c.get("/sak/1836").text)
    before = _events(two_counties)
    r = c.post(path, data={**data, "csrf_token": token})
    assert r.status_code == 404
    assert "Skal ikke lagres" not in r.text
    assert _events(two_counties) == before


def test_a_national_user_sees_every_county(two_counties):
    c = logged_in(two_counties, "nina", county=None)
    board = c.get("/").text
    for name in (*NORDLAND.values(), *TROMS.values()):
        assert name in board
    for knr in (*NORDLAND, *TROMS):
        assert c.get(f"/sak/{knr}").status_code == 200


def test_the_calendar_feed_has_only_the_owners_county(two_counties, tmp_path, monkeypatch):
    # The overdue cases' first meetings were due 53 days ago: widen the feed's window
    # (30 days back by default) so each county has both of its cases in it.
    config = tmp_path / "feed.toml"
    config.write_text("[dashboard]\nfeed_days_back = 90\n")
    monkeypatch.setenv("AVTALEFLYT_CONFIG", str(config))
    runtime.forget_process_settings()
    make_user(two_counties, "kari", "18")
    make_user(two_counties, "tove", "55")
    make_user(two_counties, "nina", None)
    with db.session_scope(two_counties) as s:
        tokens = {u: users.issue_feed_token(session=s, username=u)
                  for u in ("kari", "tove", "nina")}
    c = client()

    def municipalities(user: str) -> set[str]:
        cal = Calendar.from_ical(c.get(f"/kalender/{tokens[user]}.ics").content)
        return {str(e["summary"]).split(":")[0] for e in cal.walk("VEVENT")}

    assert municipalities("kari") == set(NORDLAND.values())
    assert municipalities("tove") == set(TROMS.values())
    assert municipalities("nina") == {*NORDLAND.values(), *TROMS.values()}


def test_a_national_user_sees_a_countys_notes_only_when_shared(two_counties):
    from avtaleflyt.services import people
    from avtaleflyt.domain.stages import Theme

    with db.session_scope(two_counties) as s:
        people.add_note(session=s, kommunenummer="5501", theme=Theme.ENGAGEMENT,
                        text="Intern Troms-vurdering, ikke delt.", on=TODAY, ctx=ctx_for(TODAY))
        people.add_note(session=s, kommunenummer="5501", theme=Theme.ENGAGEMENT,
                        text="Delt erfaring fra Tromsø.", on=TODAY, ctx=ctx_for(TODAY),
                        shared=True)
    national = logged_in(two_counties, "nina", county=None).get("/sak/5501").text
    assert "Delt erfaring fra Tromsø." in national
    assert "Intern Troms-vurdering" not in national and "1 notat er ikke delt" in national
    own = logged_in(two_counties, "tove", county="55").get("/sak/5501").text
    assert "Intern Troms-vurdering, ikke delt." in own and "Delt erfaring fra Tromsø." in own
