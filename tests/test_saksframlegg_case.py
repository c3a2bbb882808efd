"""The saksframlegg from a real case: the situation written at the needs assessment (and
erased again), the saksgang with dates from the meeting plan, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from avtaleflyt import db, runtime
from avtaleflyt.domain.errors import InvalidInput
from avtaleflyt.models import Event, PersonalText
from avtaleflyt.services import cases, documents, facts, meetings, texts

from .conftest import ctx_for

SITUATION = ("Biblioteket har én lokalt ansatt i 60 % stilling. Biblioteksjefstillingen er "
             "utlyst to ganger uten kvalifiserte søkere.")


def _record(s, kind, on, **kw):
    ctx = ctx_for(on)
    return cases.record_fact(session=s, kommunenummer="1836",
                             fact=facts.build_fact(kind, on, {}, ctx), ctx=ctx, **kw)


def _saksframlegg(s, today) -> BeautifulSoup:
    rendered = documents.render(session=s, kind="saksframlegg", formats=("html",),
                                ctx=ctx_for(today), kommunenummer="1836")
    return BeautifulSoup(rendered.files["html"].decode("utf-8"), "html.parser")


def _after(page: BeautifulSoup, heading: str) -> str:
    return page.find("h3", string=heading).find_next("p").get_text(" ", strip=True)


def test_situation_and_saksgang_come_from_the_case(db_url):
    with db.session_scope(db_url) as s:
        cases.open_case(session=s, kommunenummer="1836", opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
        with pytest.raises(InvalidInput, match="hører til «Kommunens behov er kartlagt»"):
            _record(s, "meeting-held", date(2026, 3, 10), situation=SITUATION)
        assert s.exec(select(PersonalText)).all() == []  # nothing stored
        _record(s, "meeting-held", date(2026, 3, 10))
        _record(s, "needs-assessed", date(2026, 3, 12), situation=SITUATION)
        event = s.exec(select(Event).where(Event.kind == "needs_assessed")).one()
        assert SITUATION not in str(event.details)  # the history holds only the text's id
        for body, on in (("kommunestyre", date(2026, 5, 7)), ("formannskap", date(2026, 6, 4)),
                         ("kommunestyre", date(2026, 6, 18))):
            meetings.add_meeting(session=s, kommunenummer="1836", body=body, on=on, title=None,
                                 ctx=ctx_for(date(2026, 3, 12)))

        page = _saksframlegg(s, date(2026, 3, 20))
        assert _after(page, "Situasjonen i kommunen") == SITUATION
        rows = [[td.get_text(strip=True) for td in tr.find_all("td")]
                for tr in page.find("table", class_="saksgang").tbody.find_all("tr")]
        # The council meeting after the formannskap's, not the earlier one on 7 May.
        assert rows == [["Formannskapet", "04.06.2026", "______"],
                        ["Kommunestyret", "18.06.2026", "______"]]

        [text] = [t for t in texts.list_texts(s, "1836") if t["kind"] == "situation"]
        texts.redact(session=s, text_id=text["id"], reason="Feil opplysninger",
                     ctx=ctx_for(date(2026, 3, 20)))
        page = _saksframlegg(s, date(2026, 3, 20))
        assert _after(page, "Situasjonen i kommunen") == "[sladdet]"
        assert SITUATION not in str(page)


def test_without_a_situation_or_meetings_the_saksframlegg_says_so(db_url):
    with db.session_scope(db_url) as s:
        cases.open_case(session=s, kommunenummer="1836", opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
        _record(s, "meeting-held", date(2026, 3, 10))
        _record(s, "needs-assessed", date(2026, 3, 12))
        page = _saksframlegg(s, date(2026, 3, 20))
    assert _after(page, "Situasjonen i kommunen").startswith(
        "Rødøy kommune har i dag ikke fagutdannet biblioteksjef")
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")]
            for tr in page.find("table", class_="saksgang").tbody.find_all("tr")]
    assert rows == [["Formannskapet", "Ikke fastsatt", "______"],
                    ["Kommunestyret", "Ikke fastsatt", "______"]]


@pytest.mark.prefect
def test_the_situation_goes_through_the_command_inbox(db_url, prefect_server):
    today = date(2026, 3, 12)
    runtime.run_command("open_case", kommunenummer="1836", opened_on=date(2026, 3, 2),
                        today=today)
    runtime.run_command("record_fact", kommunenummer="1836", fact="meeting-held",
                        occurred_on=date(2026, 3, 10), today=today)
    runtime.run_command("record_fact", kommunenummer="1836", fact="needs-assessed",
                        occurred_on=today, today=today, situation=SITUATION)
    with db.session_scope(db_url) as s:
        event = s.exec(select(Event).where(Event.kind == "needs_assessed")).one()
        row = s.get(PersonalText, event.details["situation_text_id"])
        assert (row.kind, row.text) == ("situation", SITUATION)
        assert _after(_saksframlegg(s, today), "Situasjonen i kommunen") == SITUATION
