"""Several counties in one database: every read command and report shows the county it is
asked for, and nothing of another county; without --county, all counties (and, in the
experience report, the counties side by side with only their shared notes).

Nordland (18): 1836 Rødøy, 1834 Lurøy.   Troms (55): 5501 Tromsø, 5544 Nordreisa.
"""

from __future__ import annotations

import io
import json
from datetime import date

import docx
from bs4 import BeautifulSoup
from sqlmodel import select

from avtaleflyt.domain.stages import Stage, Theme
from avtaleflyt.models import Task
from avtaleflyt.services import cases, documents, meetings, people, queries
from avtaleflyt.services.deadlines import deadline_rows
from avtaleflyt.services.scope import EVERYWHERE, scope_for_code
from avtaleflyt.services.store import get_case

from .conftest import ctx_for
from .test_cli import cli
from .test_document_store import advance, record, root

TODAY = date(2026, 5, 4)
NORDLAND = {"1836": "Rødøy", "1834": "Lurøy"}
TROMS = {"5501": "Tromsø", "5544": "Nordreisa - Ráisa - Raisi"}

# (kommunenummer, theme, text, shared)
NOTES = [
    ("1836", Theme.RESPONSIBILITY_SPLIT, "Rødøy-hemmelig: statistikken ble fylkets.", False),
    ("1836", Theme.ENGAGEMENT, "Rødøy-delt: ordføreren var med fra første møte.", True),
    ("5501", Theme.TECHNICAL_SYSTEMS, "Tromsø-hemmelig: IT kom for sent inn.", False),
    ("5544", Theme.TECHNICAL_SYSTEMS, "Nordreisa-delt: ta IT med fra start.", True),
]


def first_contact(session, knr, opened, done):
    cases.open_case(session=session, kommunenummer=knr, opened_on=opened, ctx=ctx_for(opened))
    record(session, "meeting-held", opened, knr)
    record(session, "needs-assessed", opened, knr)
    record(session, "intent-confirmed", done, knr)


def two_counties(session):
    """Rødøy (30 days) and Tromsø (10 days) through first contact, now in political
    approval; Lurøy (20 days) rejected by its council; Nordreisa withdrawn in first contact
    after 35 days; the four notes above. Rødøy's and
    Tromsø's councils meet in June, so their saksframlegg has a deadline."""
    for knr in ("1836", "5501"):
        meetings.add_meeting(session=session, kommunenummer=knr, body="kommunestyre",
                             on=date(2026, 6, 18), title=None, ctx=ctx_for(date(2026, 1, 2)))
    first_contact(session, "1836", date(2026, 1, 5), date(2026, 2, 4))
    first_contact(session, "1834", date(2026, 1, 12), date(2026, 2, 1))
    record(session, "council-decision", date(2026, 3, 2), "1834", outcome="rejected",
           reference="26/7")
    first_contact(session, "5501", date(2026, 2, 2), date(2026, 2, 12))
    cases.open_case(session=session, kommunenummer="5544", opened_on=date(2026, 2, 9),
                    ctx=ctx_for(date(2026, 2, 9)))
    cases.withdraw(session=session, kommunenummer="5544", on=date(2026, 3, 16),
                   reason="Ny kommunedirektør vil vente", ctx=ctx_for(date(2026, 3, 16)))
    for knr, theme, text, shared in NOTES:
        people.add_note(session=session, kommunenummer=knr, theme=theme, text=text,
                        on=date(2026, 3, 20), ctx=ctx_for(date(2026, 3, 20)), shared=shared)


def knrs(rows) -> set[str]:
    return {r["kommunenummer"] for r in rows}


def test_status_and_deadlines_keep_to_their_county(session, db_url):
    two_counties(session)
    nordland = scope_for_code(session, "18")
    troms = scope_for_code(session, "55")
    assert knrs(queries.status_rows(session, TODAY, nordland)) == set(NORDLAND)
    assert knrs(queries.status_rows(session, TODAY, troms)) == set(TROMS)
    everything = queries.status_rows(session, TODAY, EVERYWHERE)
    assert knrs(everything) == set(NORDLAND) | set(TROMS)
    assert {r["kommunenummer"]: r["county"] for r in everything}["5501"] == "Troms fylkeskommune"

    # Rødøy and Tromsø have open political tasks (their county decisions wait for a meeting
    # plan, their saksframlegg is due); Lurøy and Nordreisa are closed.
    far = 400
    assert knrs(deadline_rows(session, TODAY, far, troms)) == {"5501"}
    assert knrs(deadline_rows(session, TODAY, far, nordland)) == {"1836"}
    assert knrs(deadline_rows(session, TODAY, far)) == {"1836", "5501"}


def test_note_shared_flag_is_stored(session, db_url):
    two_counties(session)
    notes = queries.case_detail(session, "1836", TODAY)["notes"]
    assert [(n["text"][:6], n["shared"]) for n in notes] == [("Rødøy-", False),
                                                              ("Rødøy-", True)]


def test_status_and_deadlines_commands_take_a_county(session, db_url):
    two_counties(session)
    day = TODAY.isoformat()

    def run(*args):
        result = cli(*args, today=day)
        assert result.exit_code == 0, result.output
        return result.stdout

    nordland = json.loads(run("status", "--county", "18", "--json"))
    troms = json.loads(run("status", "--county", "55", "--json"))
    assert knrs(nordland) == set(NORDLAND) and knrs(troms) == set(TROMS)
    assert {r["county_code"] for r in nordland} == {"18"}
    assert {r["county_code"] for r in troms} == {"55"}
    both = json.loads(run("status", "--json"))
    assert {r["kommunenummer"]: r["county_code"] for r in both} == {
        "1836": "18", "1834": "18", "5501": "55", "5544": "55"}
    table = run("status")
    lines = [line.split("│")[1:3] for line in table.splitlines() if line.startswith("│")]
    assert [[c.strip() for c in cells] for cells in lines if cells[0].strip() in ("18", "55")
            ] == [["18", "Nordland"], ["55", "Troms"]]
    assert "Tromsø" not in run("status", "--county", "18")
    assert "Rødøy" not in run("status", "--county", "55")

    deadlines_troms = json.loads(run("deadlines", "--county", "55", "--days", "400", "--json"))
    deadlines_all = json.loads(run("deadlines", "--days", "400", "--json"))
    assert deadlines_troms and knrs(deadlines_troms) == {"5501"}
    assert knrs(deadlines_all) == {"1836", "5501"}
    assert "Rødøy" not in run("deadlines", "--county", "55", "--days", "400")

    for args in (["status"], ["deadlines"]):
        bad = cli(*args, "--county", "77", today=day)
        assert bad.exit_code == 2 and "77" in bad.output


def test_a_county_report_keeps_to_its_county_with_all_its_notes(session, db_url):
    two_counties(session)
    ctx = ctx_for(TODAY)
    troms = documents.experience_figures(session=session, ctx=ctx, county="55")
    assert (troms["scope"], troms["county"], troms["library_name"]) == (
        "county", "Troms fylkeskommune", "Troms fylkesbibliotek")
    fc = next(s for s in troms["stages"] if s["stage"] == "first_contact")
    # Tromsø 10 days; Nordreisa left first contact when it withdrew after 35.
    assert (fc["entered"], fc["completed"], fc["median_days"]) == (2, 2, 22.5)
    assert [c["municipality"] for c in troms["closed_cases"]] == [TROMS["5544"]]
    assert troms["notes_per_theme"]["technical_systems"] == 2  # shared or not: its own

    [row] = documents.store_document(session=session, kind="experience_report", ctx=ctx,
                                     county="55")
    assert row.path == "fylke-55/experience_report-v1.html"
    html = (root() / row.path).read_text(encoding="utf-8")
    assert "Troms fylkesbibliotek" in html
    assert "Tromsø-hemmelig" in html and "Nordreisa-delt" in html
    for other in (*NORDLAND.values(), "Rødøy-", "Nordland"):
        assert other not in html

    nordland = documents.render(session=session, kind="experience_report", formats=("html",),
                                ctx=ctx, read_scope=scope_for_code(session, "18"))
    html = nordland.files["html"].decode()
    assert "Nordland fylkesbibliotek" in html and "Rødøy-hemmelig" in html
    for other in (*TROMS.values(), "Tromsø-", "Nordreisa-", "Troms"):
        assert other not in html


def test_the_national_comparison_shows_both_counties_and_only_shared_notes(session, db_url):
    two_counties(session)
    ctx = ctx_for(TODAY)
    f = documents.experience_figures(session=session, ctx=ctx)
    assert f["scope"] == "national"
    by_code = {c["code"]: c for c in f["counties"]}
    assert list(by_code) == ["18", "55"]
    assert by_code["18"]["outcomes"] == {"running": 0, "in_progress": 1, "rejected": 1,
                                         "withdrawn": 0, "ended": 0}
    assert by_code["55"]["outcomes"] == {"running": 0, "in_progress": 1, "rejected": 0,
                                         "withdrawn": 1, "ended": 0}
    median = {code: next(s["median_days"] for s in c["stages"] if s["stage"] == "first_contact")
              for code, c in by_code.items()}
    assert median == {"18": 25, "55": 22.5}  # Rødøy 30 and Lurøy 20; Tromsø 10, Nordreisa 35
    assert sorted(n["text"] for n in f["shared_notes"]) == [
        "Nordreisa-delt: ta IT med fra start.", "Rødøy-delt: ordføreren var med fra første møte."]

    html_row, docx_row = documents.store_document(
        session=session, kind="experience_report", formats=("html", "docx"), ctx=ctx)
    assert html_row.path == "landet/experience_comparison-v1.html"
    assert html_row.county_id is None and html_row.kind == "experience_comparison"
    soup = BeautifulSoup((root() / html_row.path).read_text(encoding="utf-8"), "html.parser")
    text = soup.get_text(" ")
    assert "Rødøy-delt" in text and "Nordreisa-delt" in text
    assert "hemmelig" not in text
    lead = soup.find("table", class_="lead-times")
    assert [th.get_text() for th in lead.thead.find_all("th")] == ["Stadium", "Nordland",
                                                                    "Troms"]
    first = lead.tbody.find("tr").find_all("td")
    assert [td.get_text(" ", strip=True) for td in first] == [
        "Førstekontakt", "25 dager (2 av 2)", "23 dager (2 av 2)"]
    assert first[2].find("strong") is not None  # Troms is quicker there
    outcomes = {tr.find("td").get_text(): [td.get_text() for td in tr.find_all("td")[1:]]
                for tr in soup.find("table", class_="outcomes").tbody.find_all("tr")}
    assert outcomes == {"Nordland": ["0", "1", "1", "0", "0", "2"],
                        "Troms": ["0", "1", "0", "1", "0", "2"]}

    word = docx.Document(io.BytesIO((root() / docx_row.path).read_bytes()))
    table = next(t for t in word.tables if t.rows[0].cells[0].text == "Stadium")
    assert [c.text for c in table.rows[1].cells] == ["Førstekontakt", "25 dager (2 av 2)",
                                                     "23 dager (2 av 2)"]
    assert "hemmelig" not in "\n".join(p.text for p in word.paragraphs)

    listed = documents.list_documents(session=session)
    assert [(r["county_code"], r["path"]) for r in listed] == [
        (None, "landet/experience_comparison-v1.docx"),
        (None, "landet/experience_comparison-v1.html")]
    documents.store_document(session=session, kind="experience_report", ctx=ctx, county="18")
    assert [r["path"] for r in documents.list_documents(session=session, county="18")] == [
        "fylke-18/experience_report-v1.html"]
    assert len(documents.list_documents(session=session)) == 3


def test_documents_of_a_troms_case_name_troms(session, db_url):
    knr = "5501"
    first_contact(session, knr, date(2026, 3, 2), date(2026, 3, 19))
    record(session, "council-decision", date(2026, 4, 23), knr, outcome="approved")
    record(session, "county-decision", date(2026, 5, 5), knr, outcome="approved")
    record(session, "terms-set", date(2026, 5, 11), knr, start="2026-09-01", years="3",
           notice_months="6", price="kr 150 000", position_share="25", site_visits="6")
    record(session, "signed", date(2026, 5, 20), knr, party="municipality")
    record(session, "signed", date(2026, 5, 22), knr, party="county")
    _, case = get_case(session, knr)
    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             Task.stage == "system_setup")).all():
        cases.complete_task(session=session, task_id=t.id, on=date(2026, 8, 14),
                            ctx=ctx_for(date(2026, 8, 14)))
    advance(session, date(2026, 9, 1), knr)
    assert cases.current_stage(session=session, kommunenummer=knr) is Stage.RUNNING_OPERATION
    for kind in ("saksframlegg", "agreement", "setup_checklist", "yearly_report"):
        rendered = documents.render(session=session, kind=kind, formats=("html", "docx"),
                                    kommunenummer=knr, year=2026,
                                    ctx=ctx_for(date(2027, 1, 15)))
        html = rendered.files["html"].decode()
        word = docx.Document(io.BytesIO(rendered.files["docx"]))
        text = "\n".join([p.text for p in word.paragraphs]
                         + [c.text for t in word.tables for r in t.rows for c in r.cells])
        for content in (html, text):
            assert "Nordland" not in content, kind
            assert "Troms fylkesbibliotek" in content, kind
        if kind in ("saksframlegg", "agreement"):
            assert "Troms fylkeskommune" in html, kind


def test_unknown_county_is_refused_naming_it(session, db_url):
    two_counties(session)
    for args in (["status"], ["deadlines"], ["report", "experience", "--json"],
                 ["report", "list"]):
        bad = cli(*args, "--county", "77", today=TODAY.isoformat())
        assert bad.exit_code == 2, (args, bad.output)
        assert "«77»" in bad.stderr, args


def test_report_commands_take_a_county(session, db_url):
    two_counties(session)
    day = TODAY.isoformat()
    troms = json.loads(cli("report", "experience", "--county", "55", "--json", today=day).stdout)
    assert troms["county_code"] == "55"
    national = json.loads(cli("report", "experience", "--json", today=day).stdout)
    assert [c["code"] for c in national["counties"]] == ["18", "55"]
    result = cli("report", "experience", "--format", "docx", today=day)
    assert result.exit_code == 0, result.output
    assert "Lagret landet/experience_comparison-v1.docx" in result.stdout
    assert cli("report", "experience", "--county", "18", today=day).exit_code == 0
    listing = cli("report", "list", today=day).stdout
    assert "landet/experience_comparison-v1.docx" in listing
    assert "fylke-18/experience_report-v1.html" in listing
    only = json.loads(cli("report", "list", "--county", "18", "--json", today=day).stdout)
    assert [r["path"] for r in only] == ["fylke-18/experience_report-v1.html"]
