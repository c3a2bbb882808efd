"""Mine oppgaver (the coordinator's own tasks), completing several tasks with one date from
the web and the CLI, and Restanser grouped per person. Real app, real database on each
backend; the completions run real Prefect flow runs (marked `prefect`)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.models import ContactPerson, Event
from avtaleflyt.services import people
from avtaleflyt.services.queries import case_detail

from .conftest import ctx_for
from .web_support import client, csrf_of, logged_in, open_case, to_setup

JUNE = date(2026, 6, 1)


@pytest.fixture
def cases(db_url, monkeypatch):
    """Rødøy (Nordland) in system setup, Meløy (Nordland) and Oslo just opened."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", JUNE.isoformat())
    to_setup(db_url, "1836")
    open_case(db_url, "1837", date(2026, 5, 4))
    open_case(db_url, "0301", date(2026, 5, 4))
    return db_url


def tasks(url: str, knr: str, today: date = JUNE) -> dict[str, dict]:
    with db.session_scope(url) as s:
        return {t["title"]: t for t in case_detail(s, knr, today)["tasks"]}


def task_done_events(url: str) -> list[tuple[int, date]]:
    with db.session_scope(url) as s:
        return sorted((e.details["task_id"], e.occurred_on) for e in s.exec(
            select(Event).where(Event.kind == EventKind.TASK_DONE)).all())


def event_count(url: str) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Event)).one()


def test_my_tasks_are_the_coordinators_in_the_county_due_first(cases):
    assert client().get("/mine-oppgaver").status_code == 303  # behind the login
    c = logged_in(cases)  # a Nordland coordinator
    page = c.get("/mine-oppgaver")
    assert page.status_code == 200
    text = page.text
    assert 'href="/mine-oppgaver" aria-current="page"' in text  # in the navigation
    # The county's open tasks with a deadline, in Nordland only, the earliest deadline first.
    meloy_meeting = text.index("Hold første møte med kommunen")  # due 26.05
    meloy_needs = text.index("Kartlegg kommunens behov")  # due 08.06
    rodoy_visit = text.index("Første besøk planlagt")  # due 18.08
    assert meloy_meeting < meloy_needs < rodoy_visit
    assert "3 i alt" in text and "Viser 1–3 av 3" in text
    assert "Oslo" not in text
    assert "Brukerkonto i kommunens nettverk" not in text  # the municipality's task
    # A milestone closes with its fact: it is listed, but there is no box to tick.
    meeting_id = tasks(cases, "1837")["Hold første møte med kommunen"]["id"]
    assert f'value="{meeting_id}"' not in text
    # With the municipalities' tasks: the setup items, still not Oslo's.
    everything = c.get("/mine-oppgaver?alle=1").text
    assert "Brukerkonto i kommunens nettverk" in everything and "Oslo" not in everything
    assert "10 i alt" in everything
    national = logged_in(cases, "nasjonal", county=None)
    assert "Oslo" in national.get("/mine-oppgaver").text


@pytest.mark.prefect
def test_several_tasks_done_with_one_date(cases, prefect_server):
    setup = tasks(cases, "1836")
    account = setup["Brukerkonto i kommunens nettverk"]["id"]
    email = setup["E-postadresse i kommunen"]["id"]
    c = logged_in(cases)
    token = csrf_of(c.get("/mine-oppgaver?alle=1").text)
    before = task_done_events(cases)
    r = c.post("/mine-oppgaver", data={"csrf_token": token, "task_id": [str(account), str(email)],
                                       "date": "29.05.2026", "alle": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/mine-oppgaver?alle=1"
    assert task_done_events(cases) == sorted(
        before + [(account, date(2026, 5, 29)), (email, date(2026, 5, 29))])
    after = c.get("/mine-oppgaver?alle=1").text
    assert "Oppgaven «Brukerkonto i kommunens nettverk» er gjort (Rødøy)." in after
    assert "2 av 2 oppgaver er behandlet." in after
    assert f'value="{account}"' not in after  # done: off the list


@pytest.mark.prefect
def test_one_refused_task_stops_the_whole_batch(cases, prefect_server):
    setup = tasks(cases, "1836")
    library = setup["Tilgang til bibliotekssystemet"]["id"]
    archive = setup["Tilgang til sak- og arkivsystemet"]["id"]
    oslo = tasks(cases, "0301")["Kartlegg kommunens behov"]["id"]
    c = logged_in(cases)
    token = csrf_of(c.get("/mine-oppgaver?alle=1").text)
    before = event_count(cases)

    def post(ids, day="", csrf=token):
        return c.post("/mine-oppgaver", data={"csrf_token": csrf, "date": day, "alle": "1",
                                              "task_id": [str(i) for i in ids]})

    r = post([library, archive], "05.06.2026")  # after today (1 June)
    assert r.status_code == 422
    assert "er frem i tid" in r.text and "«Tilgang til bibliotekssystemet» (Rødøy)" in r.text
    assert "Ingen av oppgavene ble markert som gjort" in r.text
    r = post([library, 999999], "29.05.2026")
    assert r.status_code == 404 and "Oppgave 999999: finnes ikke." in r.text
    # Another county's task is "not found" too, not even named.
    r = post([library, oslo], "29.05.2026")
    assert r.status_code == 404 and f"Oppgave {oslo}: finnes ikke." in r.text
    assert "Kartlegg" not in r.text.split("Ingen av oppgavene")[0].split('role="alert"')[-1]
    r = post([], "29.05.2026")
    assert r.status_code == 422 and "Velg minst én oppgave." in r.text
    r = post([library], "i går")
    assert r.status_code == 422 and "ikke en gyldig dato" in r.text
    assert post([library], "29.05.2026", csrf="feil").status_code == 403
    assert event_count(cases) == before
    assert tasks(cases, "1836")["Tilgang til bibliotekssystemet"]["done_on"] is None


@pytest.mark.prefect
def test_cli_task_done_takes_several_ids(cases, prefect_server):
    runner = CliRunner()
    setup = tasks(cases, "1836")
    ids = [str(setup[t]["id"]) for t in ("Tilgang til økonomi- og HR-systemet",
                                         "Navngitt lokal kontaktperson")]
    before = event_count(cases)
    refused = runner.invoke(app, ["--today", "2026-06-01", "task", "done", *ids, "99999",
                                  "--date", "2026-05-29"])
    assert refused.exit_code != 0
    assert "Oppgave 99999: finnes ikke." in refused.output
    assert "Ingen av de 3 oppgavene ble markert som gjort" in refused.output
    assert event_count(cases) == before
    done = runner.invoke(app, ["--today", "2026-06-01", "task", "done", *ids,
                               "--date", "2026-05-29", "--json"])
    assert done.exit_code == 0, done.output
    assert [r["message"] for r in json.loads(done.stdout)] == [
        "Oppgaven «Tilgang til økonomi- og HR-systemet» er gjort (Rødøy).",
        "Oppgaven «Navngitt lokal kontaktperson» er gjort (Rødøy)."]
    assert {(i, d) for i, d in task_done_events(cases) if str(i) in ids} == {
        (int(i), date(2026, 5, 29)) for i in ids}


def test_overdue_tasks_grouped_per_person_and_printable(db_url, monkeypatch):
    august = date(2026, 8, 20)  # the setup items were due 18 August
    monkeypatch.setenv("AVTALEFLYT_TODAY", august.isoformat())
    to_setup(db_url, "1836")
    open_case(db_url, "0301", date(2026, 5, 4))
    setup = tasks(db_url, "1836", august)
    with db.session_scope(db_url) as s:
        people.add_contact(session=s, kommunenummer="1836", name="Kari Lokal",
                                  role="IT", email="kari@example.org", phone=None,
                                  primary=False, ctx=ctx_for(august))
    with db.session_scope(db_url) as s:
        contact_id = s.exec(select(ContactPerson.id)
                            .where(ContactPerson.name == "Kari Lokal")).one()
        people.assign_task(session=s, task_id=setup["Brukerkonto i kommunens nettverk"]["id"],
                           contact_id=contact_id, ctx=ctx_for(august))
    c = logged_in(db_url)
    text = c.get("/restanser?gruppering=person").text
    coordinator = text.index("<h2>Fylkets koordinator")
    named = text.index("<h2>Kari Lokal")
    unassigned = text.index("<h2>Ikke tildelt")
    assert coordinator < named < unassigned
    groups = {h.split(" <span")[0]: h for h in text.split("<h2>")[1:]}
    assert '<span class="count">1</span>' in groups["Fylkets koordinator"]
    assert "Første besøk planlagt" in groups["Fylkets koordinator"]
    assert "Brukerkonto i kommunens nettverk" in groups["Kari Lokal"]
    assert '<span class="count">1</span>' in groups["Kari Lokal"]
    assert '<span class="count">5</span>' in groups["Ikke tildelt"]
    assert "E-postadresse i kommunen" in groups["Ikke tildelt"]
    assert "Oslo" not in text  # another county
    assert 'class="print-only"' in text
    css = c.get("/static/style.css").text
    assert "@media print" in css and ".top, footer, form" in css
