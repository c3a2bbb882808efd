"""The dashboard costs what it shows, not the history: the board's HTML does not grow when
10 000 closed cases are added, every list is paged (100 rows, counts, "Neste side"), and the
calendar feed is a window answered with 304 when unchanged. Real SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date

import pytest
from icalendar import Calendar

from avtaleflyt import db, runtime
from avtaleflyt.domain.stages import Party
from avtaleflyt.services import users

from .scale_support import add_closed_history, add_done_duties, open_cases
from .web_support import client, logged_in, make_user, record

TODAY = date(2026, 3, 20)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    runtime.forget_process_settings()
    return TODAY


def _cards(html: str, stage: str) -> list[str]:
    column = html.split(f'data-stage="{stage}"')[1].split("</section>")[0]
    return re.findall(r'data-knr="(\d{4})"', column)


def test_board_html_does_not_grow_with_closed_history(db_url, today):
    knrs = open_cases(db_url, 30, date(2026, 1, 5), county="18")  # all overdue by today
    c = logged_in(db_url)
    pages = ("/", "/restanser", "/frister", "/statistikk")
    before = {p: c.get(p).text for p in pages}
    shown = _cards(before["/"], "first_contact")
    # Twelve cards, attention first (all are overdue; then by deadline and kommunenummer),
    # and a link to the rest; the column's count is all 30.
    assert shown == knrs[:12]
    assert "Vis flere (18 til)" in before["/"]
    assert re.search(r'Førstekontakt <span class="count">30</span>', before["/"])

    # Twenty years of renewals and withdrawn attempts of the same municipalities.
    add_closed_history(db_url, 10_000, kommunenumre=knrs)
    after = {p: c.get(p).text for p in pages}
    for p in ("/", "/restanser", "/frister"):
        assert len(after[p]) == len(before[p]), p
        assert after[p] == before[p], p
    # Statistikk does read the history (durations per stage), and says so in its funnel.
    assert after["/statistikk"] != before["/statistikk"]

    # Closed cases of every other municipality too: each becomes a card of its own, yet
    # no column shows more than twelve.
    add_closed_history(db_url, 2_000)
    national = logged_in(db_url, "nina", county=None).get("/").text
    assert len(re.findall(r'class="card ', national)) <= 5 * 12
    assert "Vis flere" in national


def test_pages_and_feed_do_not_grow_with_an_open_cases_done_duties(db_url, today):
    """Municipalities in running operation for twenty years under one open case: hundreds
    of done duties and their events on the very cases the pages show. None of them is due,
    so no page and not the feed changes by a byte."""
    knrs = open_cases(db_url, 30, date(2026, 1, 5), county="18")
    c = logged_in(db_url)
    make_user(db_url, "frida", None)
    with db.session_scope(db_url) as s:
        token = users.issue_feed_token(session=s, username="frida")
    pages = ("/", "/restanser", "/frister")
    before = {p: c.get(p).text for p in pages}
    feed_before = _feed(client(), token)

    assert add_done_duties(db_url, knrs, years=20) == 30 * 20 * 24  # 14 400 tasks
    after = {p: c.get(p).text for p in pages}
    for p in pages:
        assert after[p] == before[p], p
    feed_after = _feed(client(), token)
    assert feed_after.content == feed_before.content
    assert feed_after.headers["etag"] == feed_before.headers["etag"]


def test_board_column_and_restanser_are_paged(db_url, today):
    open_cases(db_url, 120, date(2026, 1, 5))  # two overdue county tasks each: 240
    c = logged_in(db_url, "nina", county=None)
    column = c.get("/?fase=first_contact").text
    assert len(_cards(column, "first_contact")) == 100
    assert "Viser 1–100 av 120 (side 1 av 2)" in column
    assert 'href="/?fase=first_contact&amp;side=2">Neste side' in column
    last = c.get("/?fase=first_contact&side=2").text
    assert len(_cards(last, "first_contact")) == 20 and "Neste side" not in last
    assert "Forrige side" in last

    summary = c.get("/restanser").text
    assert f'href="/restanser?ansvar=county">{Party.COUNTY.label}: 240</a>' in summary
    assert f'href="/restanser?ansvar=municipality">{Party.MUNICIPALITY.label}: 120</a>' in summary
    assert summary.count("<tr><td>") == 100  # half a page per party: 50 + 50
    assert "Vis flere (190 til)" in summary and "Vis flere (70 til)" in summary
    pages = [c.get(f"/restanser?ansvar=county&side={n}").text for n in (1, 2, 3)]
    assert [p.count("<tr><td>") for p in pages] == [100, 100, 40]
    assert "Viser 201–240 av 240 (side 3 av 3)" in pages[2]
    assert "Neste side" in pages[0] and "Neste side" not in pages[2]
    # Oldest first across pages; a page past the last shows the last.
    assert c.get("/restanser?ansvar=county&side=99").text.count("<tr><td>") == 40
    assert c.get("/restanser?ansvar=county&side=abc").status_code == 200


def _feed(c, token, **headers):
    return c.get(f"/kalender/{token}.ics", headers=headers)


def test_feed_window_etag_and_304(db_url, today):
    knrs = open_cases(db_url, 2, date(2026, 3, 2), county="18")  # due 23 March onwards
    open_cases(db_url, 1, date(2025, 12, 1), county="55")  # due in 2025: before the window
    make_user(db_url, "nina", None)
    with db.session_scope(db_url) as s:
        token = users.issue_feed_token(session=s, username="nina")
    c = client()
    first = _feed(c, token)
    assert first.status_code == 200
    events = list(Calendar.from_ical(first.content).walk("VEVENT"))
    # Both Nordland cases' deadlines; none of the case whose deadlines were all in 2025.
    assert {str(e["description"]).rsplit(" ", 1)[-1].rstrip(".") for e in events} == set(knrs)
    assert len(events) == 6 and all(e.decoded("dtstart") >= date(2026, 2, 18) for e in events)
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    again = _feed(c, token, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert _feed(c, token, **{"If-Modified-Since": modified}).status_code == 304
    assert _feed(c, token, **{"If-None-Match": '"annen"'}).status_code == 200
    assert _feed(c, token, **{"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
                 ).status_code == 200

    # A task done changes the feed: a new ETag, and the old one no longer answers 304.
    record(db_url, knrs[0], "meeting-held", TODAY)
    changed = _feed(c, token, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert len(list(Calendar.from_ical(changed.content).walk("VEVENT"))) == \
        len(list(Calendar.from_ical(first.content).walk("VEVENT"))) - 1
