"""Helpers shared by the dashboard's HTTP and browser tests (not a test module itself)."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from avtaleflyt import db
from avtaleflyt.services import cases, facts, users
from avtaleflyt.web.app import create_app

from .conftest import ctx_for

PASSWORD = "et langt nok passord"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return _CSRF.search(html).group(1)


def make_user(url: str, username: str = "kari", county: str | None = "18") -> None:
    """A user of Nordland by default; `county=None` makes a national user."""
    with db.session_scope(url) as s:
        users.create_user(session=s, username=username, password=PASSWORD, county=county,
                          national=county is None)


def client(*, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(), follow_redirects=False, base_url=base_url)


def logged_in(url: str, username: str = "kari", county: str | None = "18") -> TestClient:
    make_user(url, username, county)
    c = client()
    token = csrf_of(c.get("/logg-inn").text)
    r = c.post("/logg-inn", data={"username": username, "password": PASSWORD,
                                  "csrf_token": token, "neste": "/"})
    assert r.status_code == 303, r.text
    return c


def advance(s, knr: str, today: date) -> None:
    cases.advance(session=s, kommunenummer=knr, ctx=ctx_for(today))


def open_case(url: str, knr: str, on: date) -> None:
    with db.session_scope(url) as s:
        cases.open_case(session=s, kommunenummer=knr, opened_on=on, ctx=ctx_for(on))


def record(url: str, knr: str, kind: str, on: date, **options) -> None:
    with db.session_scope(url) as s:
        ctx = ctx_for(on)
        cases.record_fact(session=s, kommunenummer=knr,
                          fact=facts.build_fact(kind, on, options, ctx), ctx=ctx)
        advance(s, knr, on)


def to_political(url: str, knr: str, start: date) -> None:
    """Open a case and take it through first contact."""
    open_case(url, knr, start)
    for kind in ("meeting-held", "needs-assessed", "intent-confirmed"):
        record(url, knr, kind, start)


def to_setup(url: str, knr: str) -> None:
    """Open a case and take it to system setup (the same dates as the case-store tests)."""
    open_case(url, knr, date(2026, 3, 2))
    record(url, knr, "meeting-held", date(2026, 3, 10))
    record(url, knr, "needs-assessed", date(2026, 3, 12))
    record(url, knr, "intent-confirmed", date(2026, 3, 19))
    record(url, knr, "council-decision", date(2026, 4, 23), outcome="approved")
    record(url, knr, "county-decision", date(2026, 5, 5), outcome="approved")
    record(url, knr, "terms-set", date(2026, 5, 11), start="2026-09-01", years="3",
           notice_months="6")
    record(url, knr, "signed", date(2026, 5, 20), party="municipality")
    record(url, knr, "signed", date(2026, 5, 22), party="county")
