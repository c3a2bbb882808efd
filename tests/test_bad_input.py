"""A catalogue of malformed input across the command line, the dashboard's forms and
meeting-plan imports, on SQLite and PostgreSQL. Each case must be refused with a message a
person can act on (Norwegian, naming the field or the problem), a non-zero exit code or a
4xx page, no traceback — and the database must be exactly as it was, row for row."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import load_all

from .web_support import csrf_of, logged_in, open_case, record

pytestmark = [pytest.mark.prefect]
TODAY = "2026-05-04"
runner = CliRunner()


def fingerprint(url: str) -> str:
    """Every row of every table, in primary-key order, hashed: equal means unchanged."""
    h = hashlib.sha256()
    with db.get_engine(url).connect() as c:
        load_all()  # every table, not only those this process has used
        for table in SQLModel.metadata.sorted_tables:
            rows = c.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            h.update(f"{table.name}:{len(rows)}:{rows!r}".encode())
    return h.hexdigest()


@pytest.fixture
def world(db_url, tmp_path, prefect_server):
    """Rødøy in first contact, Meløy in contract signing (so the terms' own checks are
    reached), one contact, and a few meeting-plan files."""
    open_case(db_url, "1836", date(2026, 4, 20))
    open_case(db_url, "1837", date(2026, 3, 2))
    for kind, on, opts in (("meeting-held", date(2026, 3, 10), {}),
                           ("needs-assessed", date(2026, 3, 12), {}),
                           ("intent-confirmed", date(2026, 3, 19), {}),
                           ("council-decision", date(2026, 4, 23), {"outcome": "approved"}),
                           ("county-decision", date(2026, 4, 28), {"outcome": "approved"})):
        record(db_url, "1837", kind, on, **opts)
    assert runner.invoke(app, ["--today", TODAY, "contact", "add", "1836", "--name",
                               "Kari Nordmann", "--role", "kommunedirektør", "--email",
                               "kari@example.org"]).exit_code == 0
    return db_url


LONG = "x" * 5000
NUL = "før\x00etter"

# (argv, a word the message must contain). Dates are relative to TODAY (4 May 2026).
CLI_CASES: list[tuple[list[str], str]] = [
    # kommunenummer
    (["case", "open", "abcd"], "fire siffer"),
    (["case", "open", "183"], "fire siffer"),
    (["case", "open", "18366"], "fire siffer"),
    (["case", "open", ""], "fire siffer"),
    (["case", "open", "9999"], "9999"),
    (["case", "open", "1836"], "åpen sak"),
    (["case", "show", "12ab"], "fire siffer"),
    (["case", "record", "0000", "meeting-held"], "0000"),
    # facts and stages
    (["case", "record", "1836", "teleported"], "Ukjent hendelse"),
    (["case", "record", "1836", "meeting-held", "--situation", "Ingen leder."],
     "behov er kartlagt"),
    (["case", "record", "1836", "needs-assessed", "--situation", "x" * 5001], "situation"),
    (["case", "record", "1836", "signed", "--party", "county"], "Avtaleinngåelse"),
    (["case", "record", "1836", "council-decision", "--outcome", "approved"],
     "Politisk behandling"),
    (["case", "record", "1836", "meeting-held", "--date", "2026-02-30"], "finnes ikke"),
    (["case", "record", "1836", "meeting-held", "--date", "32.01.2026"], "dato"),
    (["case", "record", "1836", "meeting-held", "--date", "i går"], "dato"),
    (["case", "record", "1836", "meeting-held", "--date", "2099-01-01"], "frem i tid"),
    (["case", "record", "1836", "meeting-held", "--date", "2026-04-01"], "før"),
    (["case", "record", "1836", "meeting-held", "--date", "0001-01-01"], "årstall"),
    (["case", "record", "1836", "meeting-held", "--date", NUL], "dato"),
    # terms (Meløy is in contract signing)
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "0",
      "--notice-months", "6"], "years"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "-1",
      "--notice-months", "6"], "years"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "tre",
      "--notice-months", "6"], "years"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "99999999999",
      "--notice-months", "6"], "years"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "-2"], "notice"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "99999999999"], "notice"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--price", "-5"], "price"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--price", "gratis"], "price"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--price", "999999999999999999999"], "price"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--position-share", "0"], "position"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--position-share", "101"], "position"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--position-share", "NaN"], "position"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--site-visits", "-1"], "site"),
    (["case", "record", "1837", "terms-set", "--start", "2027-01-01", "--years", "3",
      "--notice-months", "6", "--site-visits", "9999"], "site"),
    (["case", "record", "1837", "terms-set", "--start", "1.1.", "--years", "3",
      "--notice-months", "6"], "start"),
    (["case", "record", "1837", "terms-set", "--years", "3", "--notice-months", "6"], "start"),
    (["case", "record", "1837", "signed", "--party", "begge"], "--party"),
    (["case", "record", "1837", "signed"], "party"),
    (["case", "record", "1837", "council-decision", "--outcome", "kanskje"], "outcome"),
    (["case", "record", "1837", "signed", "--party", "county", "--ref", LONG], "ref"),
    # status changes
    (["case", "resume", "1836"], "ikke satt på vent"),
    (["case", "hold", "1836", "--reason", LONG], "lang"),
    (["case", "hold", "1836", "--date", "2099-01-01"], "frem i tid"),
    (["case", "withdraw", "1836", "--date", "31.31.2026"], "dato"),
    # tasks
    (["task", "done", "0"], "0"),
    (["task", "done", "99999"], "99999"),
    (["task", "done", "99999999999"], "99999999999"),
    (["task", "done", "abc"], "task_id"),
    # notes
    (["note", "add", "1836", "--theme", "sladder", "tekst"], "theme"),
    (["note", "add", "1836", "--theme", "engagement", ""], "tom"),
    (["note", "add", "1836", "--theme", "engagement", "   "], "tom"),
    (["note", "add", "1836", "--theme", "engagement", NUL], "tegn"),
    (["note", "add", "1836", "--theme", "engagement", "x" * 20001], "lang"),
    (["note", "add", "9999", "--theme", "engagement", "tekst"], "9999"),
    # contacts
    (["contact", "add", "1836", "--name", "Ola", "--role", "rådmann", "--email", "ola"],
     "e-post"),
    (["contact", "add", "1836", "--name", "Ola", "--role", "rådmann", "--email",
      "ola@@example.org"], "e-post"),
    (["contact", "add", "1836", "--name", "", "--role", "rådmann", "--email",
      "ola@example.org"], "name"),
    (["contact", "add", "1836", "--name", LONG, "--role", "rådmann", "--email",
      "ola@example.org"], "lang"),
    (["contact", "add", "1836", "--name", NUL, "--role", "rådmann", "--email",
      "ola@example.org"], "tegn"),
    (["contact", "add", "1836", "--name", "Ola", "--role", "rådmann", "--email",
      "ola@example.org", "--phone", "1" * 60], "lang"),
    (["contact", "add", "abcd", "--name", "Ola", "--role", "rådmann", "--email",
      "ola@example.org"], "fire siffer"),
    # meetings
    (["meeting", "add", "1836", "--body", "bystyre", "--date", "2026-06-18"], "organ"),
    (["meeting", "add", "1836", "--body", "kommunestyre", "--date", "2026-04-18"], "før i dag"),
    (["meeting", "add", "1836", "--body", "kommunestyre", "--date", "18.18.2026"], "dato"),
    (["meeting", "add", "1836", "--body", "kommunestyre", "--date", "2026-06-18",
      "--title", LONG], "lang"),
    (["meeting", "add", "1836", "--body", "kommunestyre", "--date", "2026-06-18",
      "--title", NUL], "tegn"),
    (["meeting", "add", "county", "--body", "kommunestyre", "--date", "2026-06-18"], "KNR"),
    (["meeting", "add", "county", "--county", "77", "--body", "county", "--date",
      "2026-06-18"], "77"),
    (["meeting", "add", "9999", "--body", "kommunestyre", "--date", "2026-06-18"], "9999"),
    (["meeting", "import", "/finnes/ikke.csv"], "Fant ikke"),
    # users
    (["user", "add", "k", "--county", "18", "--password-stdin"], "brukernavn"),
    (["user", "add", "kari nordmann", "--county", "18", "--password-stdin"], "brukernavn"),
    (["user", "add", "kari", "--password-stdin"], "--county"),
    (["user", "add", "kari", "--county", "77", "--password-stdin"], "77"),
    (["user", "add", "kari", "--county", "18", "--national", "--password-stdin"], "begge"),
    (["user", "feed-token", "finnesikke"], "finnesikke"),
    # reads and documents
    (["status", "--county", "7"], "7"),
    (["status", "--county", "nordland"], "nordland"),
    (["municipality", "list", "--county", "99"], "99"),
    (["deadlines", "--county", "77"], "77"),
    (["doc", "render", "1836", "brev"], "brev"),
    (["doc", "render", "1836", "agreement", "--format", "odt"], "odt"),
    (["doc", "render", "1836", "databehandleravtale", "--format", "pdfa"], "pdfa"),
    (["doc", "render", "9999", "agreement"], "9999"),
    (["doc", "render", "1836", "yearly_report", "--year", "0"], "år"),
    (["doc", "render", "1836", "yearly_report", "--year", "99999"], "år"),
    (["report", "experience", "--county", "77"], "77"),
    (["report", "experience", "--format", "odt"], "odt"),
    # global options
    (["--today", "2026-13-01", "status"], "dato"),
    (["--db", "mysql://localhost/x", "status"], "sqlite"),
]


@pytest.mark.parametrize("argv, expected", CLI_CASES,
                         ids=[f"cli{i:02d}-{' '.join(a)[:40]}" for i, (a, _) in
                              enumerate(CLI_CASES)])
def test_the_command_line_refuses_bad_input(world, argv, expected):
    before = fingerprint(world)
    full = argv if argv[0].startswith("--") else ["--today", TODAY, *argv]
    result = runner.invoke(app, full, input="kort\n")
    assert result.exit_code in (1, 2), (argv, result.exit_code, result.output)
    assert expected.lower() in result.output.lower(), (argv, result.output)
    assert "Traceback" not in result.output
    assert fingerprint(world) == before


# (path, form fields, expected status, a word the page must contain)
FORM_CASES: list[tuple[str, dict[str, str], int, str]] = [
    ("/sak/1836/fakta", {"fact": "teleported"}, 422, "Ukjent"),
    ("/sak/1836/fakta", {"fact": "meeting-held", "date": "2026-02-30"}, 422, "finnes ikke"),
    ("/sak/1836/fakta", {"fact": "meeting-held", "date": "2099-01-01"}, 422, "frem i tid"),
    ("/sak/1836/fakta", {"fact": "meeting-held", "date": NUL}, 422, "dato"),
    ("/sak/1836/fakta", {"fact": "meeting-held", "situation": "Ingen leder."}, 422,
     "behov er kartlagt"),
    ("/sak/1836/fakta", {"fact": "signed", "party": "county"}, 409, "Avtaleinngåelse"),
    ("/sak/1837/fakta", {"fact": "terms-set", "start": "2027-01-01", "years": "0",
                         "notice_months": "6"}, 422, "Varighet"),
    ("/sak/1837/fakta", {"fact": "terms-set", "start": "2027-01-01", "years": "3",
                         "notice_months": "6", "price": "-1"}, 422, "Pris"),
    ("/sak/1837/fakta", {"fact": "terms-set", "start": "2027-01-01", "years": "3",
                         "notice_months": "6", "price": "1" * 25}, 422, "Pris"),
    ("/sak/1837/fakta", {"fact": "terms-set", "start": "2027-01-01", "years": "3",
                         "notice_months": "6", "position_share": "150"}, 422, "Stillingsandel"),
    ("/sak/1837/fakta", {"fact": "terms-set", "start": "", "years": "3",
                         "notice_months": "6"}, 422, "Startdato"),
    ("/sak/1837/fakta", {"fact": "signed", "party": "noen"}, 422, "Part"),
    ("/sak/1837/fakta", {"fact": "council-decision", "outcome": "ja"}, 422, "Utfall"),
    ("/sak/1837/fakta", {"fact": "signed", "party": "county", "reference": LONG}, 422,
     "Saksnummer"),
    ("/sak/1836/notat", {"theme": "sladder", "text": "x"}, 422, "tema"),
    ("/sak/1836/notat", {"theme": "engagement", "text": ""}, 422, "tom"),
    ("/sak/1836/notat", {"theme": "engagement", "text": NUL}, 422, "tegn"),
    ("/sak/1836/notat", {"theme": "engagement", "text": "x" * 20001}, 422, "lang"),
    ("/sak/1836/notat", {"theme": "engagement", "text": "x", "date": "2099-01-01"}, 422,
     "frem i tid"),
    ("/sak/1836/vent", {"reason": LONG}, 422, "lang"),
    ("/sak/1836/vent", {"reason": NUL}, 422, "tegn"),
    ("/sak/1836/vent", {"date": "i morgen"}, 422, "dato"),
    ("/sak/1836/gjenoppta", {}, 409, "vent"),
    ("/sak/1836/oppgave", {"task_id": "abc"}, 404, "oppgave"),
    ("/sak/1836/oppgave", {"task_id": "-1"}, 404, "oppgave"),
    ("/sak/1836/oppgave", {"task_id": "99999999999"}, 404, "oppgave"),
    ("/sak/1836/oppgave", {"task_id": "1", "date": "2026-02-30"}, 422, "finnes ikke"),
    ("/sak/1836/kontakt/99999999999999999999999", {"name": "Ola"}, 404, "kontaktperson"),
    ("/sak/1836/kontakt/99999999999999999999999/slett", {"confirm": "ja"}, 404,
     "kontaktperson"),
    ("/sak/1836/kontakt/0/slett", {"confirm": "ja"}, 404, "kontaktperson"),
    ("/sak/9999/notat", {"theme": "engagement", "text": "x"}, 404, "9999"),
    ("/sak/12ab/notat", {"theme": "engagement", "text": "x"}, 422, "fire siffer"),
]


@pytest.mark.parametrize("path, data, status, expected", FORM_CASES,
                         ids=[f"form{i:02d}-{p.rsplit('/', 1)[-1]}" for i, (p, *_) in
                              enumerate(FORM_CASES)])
def test_the_dashboards_forms_refuse_bad_input(world, monkeypatch, path, data, status,
                                                expected):
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY)
    c = logged_in(world)
    token = csrf_of(c.get("/sak/1836").text)
    before = fingerprint(world)
    r = c.post(path, data={**data, "csrf_token": token})
    assert r.status_code == status, (path, data, r.status_code, r.text[-800:])
    assert expected.lower() in r.text.lower(), (path, r.text[-800:])
    assert "Internal Server Error" not in r.text and "Traceback" not in r.text
    assert fingerprint(world) == before


# (file name, content, a word the message must contain)
IMPORT_CASES: list[tuple[str, bytes, str]] = [
    ("tom.csv", b"", "tom"),
    ("bare-mellomrom.csv", b"   \n\n", "tom"),
    ("feil-kolonner.csv", b"navn;sted\nA;B\n", "kolonnen"),
    ("ukjent-organ.csv", "kommunenummer;organ;dato\n1836;menighetsråd;18.06.2026\n"
     .encode(), "organ"),
    ("ugyldig-dato.csv", b"kommunenummer;organ;dato\n1836;kommunestyre;31.06.2026\n", "dato"),
    ("ukjent-kommune.csv", b"kommunenummer;organ;dato\n9999;kommunestyre;18.06.2026\n",
     "9999"),
    ("feil-nummer.csv", b"kommunenummer;organ;dato\n18x6;kommunestyre;18.06.2026\n",
     "kommunenummer"),
    ("mangler-nummer.csv", b"kommunenummer;organ;dato\n;kommunestyre;18.06.2026\n",
     "mangler"),
    ("ukjent-fylke.csv", b"kommunenummer;organ;dato\n77;fylkesting;18.06.2026\n", "77"),
    ("for-mange-felt.csv", b"kommunenummer;organ;dato\n1836;kommunestyre;18.06.2026;a;b\n",
     "felt"),
    ("en-god-en-feil.csv", b"kommunenummer;organ;dato\n1836;kommunestyre;18.06.2026\n"
     b"1836;kommunestyre;32.06.2026\n", "dato"),
    ("binaer.csv", bytes(range(256)) * 4, "tekstfil"),
    ("ugyldig.ics", b"BEGIN:VCALENDAR\r\nthis is not a calendar\r\n", "iCalendar"),
    ("uten-dato.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//NO\r\nBEGIN:VEVENT\r\n"
     b"UID:1\r\nSUMMARY:Kommunestyrem\xc3\xb8te\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "dato"),
    ("uten-kommune.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//NO\r\nBEGIN:VEVENT"
     b"\r\nUID:1\r\nDTSTART;VALUE=DATE:20260618\r\nSUMMARY:Kommunestyrem\xc3\xb8te\r\n"
     b"END:VEVENT\r\nEND:VCALENDAR\r\n", "kommunenummer"),
]


@pytest.mark.parametrize("name, content, expected", IMPORT_CASES,
                         ids=[f"import{i:02d}-{n}" for i, (n, *_) in enumerate(IMPORT_CASES)])
def test_meeting_plan_imports_refuse_bad_files(world, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    before = fingerprint(world)
    result = runner.invoke(app, ["--today", TODAY, "meeting", "import", str(path)])
    assert result.exit_code in (1, 2), (name, result.exit_code, result.output)
    assert expected.lower() in result.output.lower(), (name, result.output)
    assert "Traceback" not in result.output
    assert fingerprint(world) == before


def test_the_catalogue_has_at_least_a_hundred_cases():
    assert len(CLI_CASES) + len(FORM_CASES) + len(IMPORT_CASES) >= 100
