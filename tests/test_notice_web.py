"""Notice on the case page: the form refuses notice without a party (no flow run, nothing
written, the party field marked) and the page says when notice was given, by whom, and when
the agreement ends."""

from __future__ import annotations

from datetime import date

from sqlmodel import func, select

from avtaleflyt import db
from avtaleflyt.models import Event

from .reminder_support import record
from .test_notice_services import KNR, _running
from .web_support import csrf_of, logged_in


def _events(url):
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Event)).one()


def test_the_case_page_records_and_shows_notice(db_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-12-01")
    with db.session_scope(db_url) as s:
        _running(s, "auto")
    c = logged_in(db_url)
    page = c.get(f"/sak/{KNR}").text
    # In running operation notice is the only fact there is, so it is the one chosen.
    assert '<option value="notice-given" selected>Avtalen er sagt opp</option>' in page
    assert 'id="notice-given"' not in page
    before = _events(db_url)
    r = c.post(f"/sak/{KNR}/fakta", data={"csrf_token": csrf_of(page),
                                          "fact": "notice-given", "date": "30.11.2026"})
    assert r.status_code == 422
    assert 'id="fact-party" name="party" aria-invalid="true"' in r.text
    assert "«Avtalen er sagt opp» krever «Part»" in r.text
    assert _events(db_url) == before

    with db.session_scope(db_url) as s:
        record(s, KNR, "notice-given", date(2026, 11, 30), today=date(2026, 12, 1),
               party="county")
    page = c.get(f"/sak/{KNR}").text
    assert ('<p id="notice-given"><strong>Sagt opp 30. november 2026 av fylkeskommunen; '
            "avtalen slutter 31. desember 2026.</strong></p>") in page
