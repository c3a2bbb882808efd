"""The experience report from recorded history, its figures worked out by hand.

Four municipalities, driven through the services on SQLite and PostgreSQL:

  Rødøy  1836  opened 5 Jan; first contact done 4 Feb (30 days); both approvals by
               15 Apr (70 days); in contract signing since 15 Apr (open).
  Røst   1856  opened 1 Feb; first contact done 21 Feb (20 days); council rejects on
               23 Mar (30 days in political approval, then closed).
  Træna  1835  opened 10 Jan; first contact done 1 Mar (50 days); withdrawn 20 Mar
               (19 days in political approval, then closed).
  Værøy  1857  opened 1 Mar; put on hold 1 Apr (with a reason); still in first contact
               on 1 May (61 days: a stall, shown with the reason it waits).

First contact: 4 entered, 3 completed (20, 30, 50) -> median 30, quickest Røst, slowest Træna.
Political approval: 3 entered, 3 completed (19, 30, 70) -> median 30. Rødøy left it; the
rejected and withdrawn cases closed it. Had their spans been left open, they would be
stalls of 69 and 61 days (> median 30) — the report must not show them.
"""

from __future__ import annotations

import io
from datetime import date

import docx
from bs4 import BeautifulSoup

from avtaleflyt.domain.stages import Theme
from avtaleflyt.services import cases, documents, people

from .conftest import ctx_for
from .test_document_store import record, root

TODAY = date(2026, 5, 1)
HOSTILE = 'Kommunen ville ikke <em>dette</em> & "mer" {{ 7*7 }}'


def first_contact(session, knr, opened, done):
    cases.open_case(session=session, kommunenummer=knr, opened_on=opened, ctx=ctx_for(opened))
    record(session, "meeting-held", opened, knr)
    record(session, "needs-assessed", opened, knr)
    record(session, "intent-confirmed", done, knr)


def history(session):
    first_contact(session, "1836", date(2026, 1, 5), date(2026, 2, 4))
    record(session, "council-decision", date(2026, 4, 1), "1836", outcome="approved")
    record(session, "county-decision", date(2026, 4, 15), "1836", outcome="approved")

    first_contact(session, "1856", date(2026, 2, 1), date(2026, 2, 21))
    record(session, "council-decision", date(2026, 3, 23), "1856", outcome="rejected",
           reference="26/31")

    first_contact(session, "1835", date(2026, 1, 10), date(2026, 3, 1))
    cases.withdraw(session=session, kommunenummer="1835", on=date(2026, 3, 20), reason=HOSTILE,
                   ctx=ctx_for(date(2026, 3, 20)))

    cases.open_case(session=session, kommunenummer="1857", opened_on=date(2026, 3, 1),
                    ctx=ctx_for(date(2026, 3, 1)))
    cases.hold(session=session, kommunenummer="1857", on=date(2026, 4, 1),
               reason="Venter på ny kommunedirektør", ctx=ctx_for(date(2026, 4, 1)))
    for knr, theme, text, on in (
            ("1836", Theme.RESPONSIBILITY_SPLIT, "Statistikken ble fylkets ansvar.",
             date(2026, 2, 10)),
            ("1857", Theme.TECHNICAL_SYSTEMS, HOSTILE, date(2026, 3, 5)),
            ("1836", Theme.ENGAGEMENT, "Ordføreren deltok på første møte.", date(2026, 1, 20))):
        people.add_note(session=session, kommunenummer=knr, theme=theme, text=text, on=on,
                        ctx=ctx_for(on))


def test_figures_match_the_recorded_history(session, db_url):
    history(session)
    f = documents.experience_figures(session=session, ctx=ctx_for(TODAY))
    stages = {s["stage"]: s for s in f["stages"]}

    fc = stages["first_contact"]
    assert (fc["entered"], fc["completed"], fc["median_days"]) == (4, 3, 30)
    assert (fc["min_days"], fc["max_days"]) == (20, 50)
    assert fc["quickest"]["municipality"] == "Røst" and fc["slowest"]["municipality"] == "Træna"

    pa = stages["political_approval"]
    assert (pa["entered"], pa["completed"], pa["median_days"]) == (3, 3, 30)
    assert (pa["min_days"], pa["max_days"]) == (19, 70)
    assert pa["quickest"]["municipality"] == "Træna" and pa["slowest"]["municipality"] == "Rødøy"

    cs = stages["contract_signing"]
    assert (cs["entered"], cs["completed"], cs["median_days"]) == (1, 0, None)

    # Only Værøy has stalled; the closed cases are over, not stuck.
    assert [(s["municipality"], s["stage"], s["days_so_far"], s["limit_days"],
             s["waiting_reason"]) for s in f["stalls"]] == [
        ("Værøy", "first_contact", 61, 30.0,
         "Satt på vent 01.04.2026: Venter på ny kommunedirektør")]

    assert [(c["municipality"], c["status"], c["date"], c["reason"]) for c in f["closed_cases"]] \
        == [("Træna", "withdrawn", "2026-03-20", HOSTILE),
            ("Røst", "rejected", "2026-03-23", "Avslått av kommunestyret (sak 26/31)")]
    assert f["notes_per_theme"] == {"responsibility_split": 1, "technical_systems": 1,
                                    "engagement": 1, "other": 0}


def test_stored_report_shows_the_same_figures_and_the_notes_literally(session, db_url):
    history(session)
    html_row, docx_row = documents.store_document(
        session=session, kind="experience_report", formats=("html", "docx"),
        ctx=ctx_for(TODAY))
    assert html_row.path == "fylke-18/experience_report-v1.html"
    assert html_row.case_id is None and html_row.municipality_id is None

    soup = BeautifulSoup((root() / html_row.path).read_text(encoding="utf-8"), "html.parser")
    table = soup.find("table", class_="stages")
    cells = {tr.find_all("td")[0].get_text(): [td.get_text(" ", strip=True)
                                              for td in tr.find_all("td")[1:]]
             for tr in table.tbody.find_all("tr")}
    assert cells["Førstekontakt"] == ["4", "3", "30 dager", "Røst (20 dager)",
                                      "Træna (50 dager)"]
    assert cells["Politisk behandling"] == ["3", "3", "30 dager", "Træna (19 dager)",
                                            "Rødøy (70 dager)"]
    stalls = soup.find("table", class_="stalls").tbody.find_all("tr")
    assert [tr.find("td").get_text() for tr in stalls] == ["Værøy"]
    assert stalls[0].find_all("td")[-1].get_text() == (
        "Lengre enn medianen for stadiet (30 dager). "
        "Satt på vent 01.04.2026: Venter på ny kommunedirektør")
    assert soup.find("em", string="dette") is None
    assert HOSTILE in soup.get_text()

    word = docx.Document(io.BytesIO((root() / docx_row.path).read_bytes()))
    stage_table = next(t for t in word.tables if t.rows[0].cells[0].text == "Stadium")
    assert [c.text for c in stage_table.rows[1].cells] == [
        "Førstekontakt", "4", "3", "30 dager", "Røst (20 dager)", "Træna (50 dager)"]
    closed = next(t for t in word.tables if t.rows[0].cells[0].text == "Kommune"
                  and t.rows[0].cells[1].text == "Utfall")
    assert [c.text for c in closed.rows[1].cells] == ["Træna", "Trukket", "20.03.2026", HOSTILE]

    # A second report is a new version next to the first.
    again = documents.store_document(session=session, kind="experience_report",
                                     ctx=ctx_for(TODAY))
    assert again[0].version == 2 and (root() / html_row.path).exists()
