"""The coordinator's case actions from the dashboard (issue 13): open a case from the board,
hold / resume / withdraw with a reason, and assign a task to a user of the county (also
`avtaleflyt task assign --user`). Real app over FastAPI's TestClient on SQLite; the forms that
succeed run the real flows (marked `prefect`); refusals are answered before any flow starts."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import Command, Event, OnboardingCase, Task
from avtaleflyt.services import people, users
from avtaleflyt.services.queries import case_detail

from .conftest import ctx_for
from .web_support import PASSWORD, client, csrf_of, logged_in, make_user, open_case

TODAY = date(2026, 6, 1)


@pytest.fixture
def url(sqlite_url, monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    return sqlite_url


def counts(url: str) -> tuple[int, int, int]:
    """Events, cases and stored commands: what a refused form must leave as it was."""
    with db.session_scope(url) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one()
                     for t in (Event, OnboardingCase, Command))


def tasks(url: str, knr: str) -> dict[str, dict]:
    with db.session_scope(url) as s:
        return {t["title"]: t for t in case_detail(s, knr, TODAY)["tasks"]}


def login(username: str):
    """Log in a user made earlier (`logged_in` makes the user too)."""
    c = client()
    r = c.post("/logg-inn", data={"username": username, "password": PASSWORD, "neste": "/",
                                  "csrf_token": csrf_of(c.get("/logg-inn").text)})
    assert r.status_code == 303, r.text
    return c


def status_of(url: str, knr: str) -> str:
    with db.session_scope(url) as s:
        return case_detail(s, knr, TODAY)["status"]


# --- Ny sak -----------------------------------------------------------------------------------


def test_new_case_form_lists_the_countys_municipalities_without_an_open_case(url):
    open_case(url, "1837", date(2026, 5, 4))  # Meløy has a case already
    assert client().get("/ny-sak").status_code == 303  # behind the login
    c = logged_in(url)
    board = c.get("/").text
    assert '<a class="button" href="/ny-sak">Ny sak</a>' in board
    page = c.get("/ny-sak").text
    assert '<option value="1836">1836 Rødøy</option>' in page
    assert 'value="1837"' not in page  # an open case
    assert 'value="0301"' not in page  # Oslo: another county
    assert 'name="date" value="2026-06-01"' in page  # today by default
    national = logged_in(url, "nasjonal", county=None).get("/ny-sak").text
    assert '<option value="0301">0301 Oslo</option>' in national
    assert '<optgroup label="Nordland fylkeskommune">' in national


def test_a_refused_new_case_marks_the_field_and_writes_nothing(url):
    open_case(url, "1837", date(2026, 5, 4))
    c = logged_in(url)
    token = csrf_of(c.get("/ny-sak").text)
    before = counts(url)

    def post(knr: str, day: str = "", csrf: str = token):
        return c.post("/ny-sak", data={"csrf_token": csrf, "kommunenummer": knr, "date": day})

    r = post("1837")
    assert r.status_code == 409
    assert "Meløy har allerede en åpen sak" in r.text
    assert 'id="newcase-kommunenummer" name="kommunenummer" required aria-invalid="true"' in r.text
    r = post("0301")  # Oslo is not the Nordland user's: as if it did not exist
    assert r.status_code == 404 and "Fant ingen kommune med kommunenummer 0301" in r.text
    assert 'aria-invalid="true" aria-describedby="err-kommunenummer"' in r.text
    r = post("1836", "2026-06-05")
    assert r.status_code == 422 and "er frem i tid" in r.text
    assert 'id="newcase-date" name="date" value="2026-06-05" aria-invalid="true"' in r.text
    r = post("")
    assert r.status_code == 422 and "«Kommune» mangler" in r.text
    assert post("1836", csrf="feil").status_code == 403
    assert counts(url) == before


@pytest.mark.prefect
def test_open_a_case_from_the_dashboard(url, prefect_server):
    c = logged_in(url)
    token = csrf_of(c.get("/ny-sak").text)
    r = c.post("/ny-sak", data={"csrf_token": token, "kommunenummer": "1836",
                                "date": "28.05.2026"})
    assert r.status_code == 303 and r.headers["location"] == "/sak/1836"
    page = c.get("/sak/1836").text
    assert "Sak åpnet for Rødøy (1836)." in page
    assert "Neste frist: Hold første møte med kommunen innen" in page
    with db.session_scope(url) as s:
        case = s.exec(select(OnboardingCase)).one()
        opened = s.exec(select(Event).where(Event.kind == "case_opened")).one()
    assert case.opened_on == date(2026, 5, 28) and opened.recorded_by == "kari"
    assert 'value="1836"' not in c.get("/ny-sak").text  # no second open case offered


# --- hold, resume, withdraw ------------------------------------------------------------------


@pytest.mark.prefect
def test_hold_resume_and_withdraw_with_reason(url, prefect_server):
    open_case(url, "1836", date(2026, 5, 4))
    c = logged_in(url)
    page = c.get("/sak/1836").text
    token = csrf_of(page)
    assert 'action="/sak/1836/vent"' in page and 'action="/sak/1836/trekk"' in page
    assert 'action="/sak/1836/gjenoppta"' not in page
    r = c.post("/sak/1836/vent", data={"csrf_token": token, "date": "29.05.2026",
                                       "reason": "Venter på ny kommunedirektør"})
    assert r.status_code == 303
    page = c.get("/sak/1836").text
    assert "· På vent siden 29. mai 2026" in page
    assert "Satt på vent: Venter på ny kommunedirektør" in page  # the history, with reason
    # Only what applies now: resume (and withdraw), no second hold.
    assert 'action="/sak/1836/gjenoppta"' in page and 'action="/sak/1836/vent"' not in page
    assert c.post("/sak/1836/gjenoppta", data={"csrf_token": token}).status_code == 303
    page = c.get("/sak/1836").text
    assert "Saken for Rødøy er gjenopptatt" in page and "· Aktiv" in page

    before = counts(url)
    r = c.post("/sak/1836/trekk", data={"csrf_token": token, "reason": "Kommunen ansatte egen "
                                        "biblioteksjef"})
    assert r.status_code == 422
    assert "Kryss av for å bekrefte at saken trekkes" in r.text
    assert '<details id="withdraw" open>' in r.text
    assert 'id="withdraw-confirm" name="confirm" value="ja" aria-invalid="true"' in r.text
    assert counts(url) == before and status_of(url, "1836") == "active"
    r = c.post("/sak/1836/trekk", data={"csrf_token": token, "confirm": "ja",
                                        "reason": "Kommunen ansatte egen biblioteksjef"})
    assert r.status_code == 303
    page = c.get("/sak/1836").text
    assert "· Trukket" in page and "Saken er trukket." in page
    assert "Trukket: Kommunen ansatte egen biblioteksjef" in page
    assert 'action="/sak/1836/trekk"' not in page and 'action="/sak/1836/vent"' not in page
    assert status_of(url, "1836") == "withdrawn"
    with db.session_scope(url) as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.recorded_by == "kari"))]
    assert kinds == ["case_on_hold", "case_resumed", "case_withdrawn"]


# --- assign a task to a user of the county ---------------------------------------------------


@pytest.fixture
def assignable(url):
    """Rødøy just opened; two Nordland users (kari, per) and one of Oslo (ola)."""
    open_case(url, "1836", date(2026, 5, 4))
    make_user(url, "per")
    make_user(url, "ola", county="03")
    return url


def test_my_tasks_are_mine_and_the_roles_unassigned(assignable):
    t = tasks(assignable, "1836")
    needs = t["Kartlegg kommunens behov"]["id"]
    with db.session_scope(assignable) as s:
        people.assign_task(session=s, task_id=needs, contact_id=None, user="per",
                           ctx=ctx_for(TODAY))
    kari, per = logged_in(assignable), login("per")
    kari_page, per_page = kari.get("/mine-oppgaver").text, per.get("/mine-oppgaver").text
    assert "Kartlegg kommunens behov" in per_page
    assert "Kartlegg kommunens behov" not in kari_page  # per's now, not the role's
    # The coordinator role's unassigned tasks are on both.
    assert "Hold første møte med kommunen" in kari_page
    assert "Hold første møte med kommunen" in per_page
    # A disabled user's tasks are the role's again: on nobody's list would be lost.
    with db.session_scope(assignable) as s:
        users.set_active(session=s, username="per", active=False)
    assert "Kartlegg kommunens behov" in kari.get("/mine-oppgaver").text
    with db.session_scope(assignable) as s:
        users.set_active(session=s, username="per", active=True)
    assert "Kartlegg kommunens behov" not in kari.get("/mine-oppgaver").text
    # Restanser per person names the user.
    with db.session_scope(assignable) as s:
        s.get(Task, needs).due_on = date(2026, 5, 20)
        s.commit()
    groups = {h.split(" <span")[0]: h
              for h in kari.get("/restanser?gruppering=person").text.split("<h2>")[1:]}
    assert "Kartlegg kommunens behov" in groups["per"]
    assert "Kartlegg kommunens behov" not in groups.get("Fylkets koordinator", "")


def test_a_refused_assignment_marks_the_field_and_writes_nothing(assignable):
    needs = tasks(assignable, "1836")["Kartlegg kommunens behov"]["id"]
    open_case(assignable, "1837", date(2026, 5, 4))
    other = tasks(assignable, "1837")["Kartlegg kommunens behov"]["id"]
    c = logged_in(assignable)
    page = c.get("/sak/1836").text
    token = csrf_of(page)
    fid = f"assign-{needs}-assignee"
    # The choice offers the county's users, never another county's.
    assert '<option value="user:per">per</option>' in page and "user:ola" not in page
    before = counts(assignable)

    def post(task_id: int, assignee: str):
        return c.post(f"/sak/1836/oppgave/{task_id}/ansvarlig",
                      data={"csrf_token": token, "assignee": assignee})

    r = post(needs, "user:ola")  # a user of Oslo
    assert r.status_code == 422
    assert "«Bruker»: «ola» er ingen aktiv bruker i fylket til Rødøy" in r.text
    assert f'id="{fid}" name="assignee" aria-invalid="true"' in r.text
    r = post(needs, "user:finnesikke")
    assert r.status_code == 422 and "«finnesikke» er ingen aktiv bruker" in r.text
    r = post(needs, "hvem som helst")
    assert r.status_code == 422 and "«Ansvarlig»: velg en ansvarlig fra listen." in r.text
    r = post(other, "user:per")  # Meløy's task from Rødøy's page
    assert r.status_code == 404 and "Oppgaven hører ikke til denne saken" in r.text
    assert counts(assignable) == before
    with db.session_scope(assignable) as s:
        assert s.exec(select(Task).where(Task.assigned_user_id.is_not(None))).all() == []


@pytest.mark.prefect
def test_assign_a_task_to_a_user_from_the_case_page(assignable, prefect_server):
    needs = tasks(assignable, "1836")["Kartlegg kommunens behov"]["id"]
    c = logged_in(assignable)
    token = csrf_of(c.get("/sak/1836").text)
    r = c.post(f"/sak/1836/oppgave/{needs}/ansvarlig",
               data={"csrf_token": token, "assignee": "user:per"})
    assert r.status_code == 303 and r.headers["location"] == "/sak/1836"
    page = c.get("/sak/1836").text
    assert "Oppgaven «Kartlegg kommunens behov» er tildelt per." in page
    assert "Oppgave tildelt per: «Kartlegg kommunens behov»" in page  # the history
    assert '<option value="user:per" selected>per</option>' in page
    assert "Kartlegg kommunens behov" in login("per").get("/mine-oppgaver").text
    assert "Kartlegg kommunens behov" not in c.get("/mine-oppgaver").text
    # Back to the default: the coordinator role's again.
    r = c.post(f"/sak/1836/oppgave/{needs}/ansvarlig", data={"csrf_token": token,
                                                              "assignee": ""})
    assert r.status_code == 303
    assert "er tilbake hos standard ansvarlig (fylkets koordinator)" in c.get("/sak/1836").text
    assert "Kartlegg kommunens behov" in c.get("/mine-oppgaver").text


@pytest.mark.prefect
def test_cli_task_assign_user(assignable, prefect_server):
    runner = CliRunner()
    needs = str(tasks(assignable, "1836")["Kartlegg kommunens behov"]["id"])
    before = counts(assignable)
    refused = runner.invoke(app, ["task", "assign", needs, "--user", "ola"])
    assert refused.exit_code != 0
    assert "«--user»: «ola» er ingen aktiv bruker i fylket til Rødøy" in refused.output
    both = runner.invoke(app, ["task", "assign", needs, "--user", "per", "--contact", "1"])
    assert both.exit_code != 0 and "Velg enten «--contact» eller «--user»" in both.output
    assert counts(assignable) == before
    done = runner.invoke(app, ["task", "assign", needs, "--user", "per", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["message"] == \
        "Oppgaven «Kartlegg kommunens behov» er tildelt per."
    with db.session_scope(assignable) as s:
        assigned = s.exec(select(Task).where(Task.assigned_user_id.is_not(None))).one()
        event = s.exec(select(Event).where(Event.kind == "task_assigned")).one()
    assert assigned.id == int(needs) and event.details["user"] == "per"
