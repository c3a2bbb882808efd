"""The dashboard over HTTP (FastAPI's TestClient): every page and form, authentication,
CSRF, validation and escaping. Form posts that start flows are marked `prefect`."""

from __future__ import annotations

import os
import re
import stat
from datetime import date
from typing import Any

import pytest
from icalendar import Calendar
from sqlmodel import func, select

from avtaleflyt import db
from avtaleflyt.services import cases, people, users
from avtaleflyt.services.queries import case_detail
from avtaleflyt.models import Event, ExperienceNote, PersonalText

from .conftest import ctx_for
from .web_support import (
    PASSWORD, advance, client, csrf_of, logged_in, make_user, open_case, record, to_political,
    to_setup)

TODAY = date(2026, 3, 20)
PAGES = ["/", "/restanser", "/frister", "/sak/1836", "/statistikk",
         "/?status=active&ansvar=county"]
HOSTILE = "<script>alert('x')</script>{{7*7}}"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    return TODAY


def events(url: str) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Event)).one()


@pytest.fixture
def with_case(db_url, today):
    open_case(db_url, "1836", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        people.add_contact(session=s, kommunenummer="1836", name="Ola Nordmann",
                           role="kultursjef", email="ola.hemmelig@example.org", phone=None,
                           primary=True, ctx=ctx_for(today))
    return db_url


def test_every_page_needs_login(with_case):
    c = client()
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/logg-inn?neste=")
        assert "ola.hemmelig" not in r.text
    for path in ["/sak/1836/fakta", "/sak/1836/oppgave", "/sak/1836/notat", "/sak/1836/vent",
                 "/sak/1836/gjenoppta"]:
        r = c.post(path, data={"fact": "meeting-held"})
        assert r.status_code == 401, path
    assert events(with_case) == 2  # case opened, contact added: nothing more


def test_every_page_renders_for_a_logged_in_user(with_case):
    c = logged_in(with_case)
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert "<html lang=\"nb\">" in r.text
    assert "ola.hemmelig@example.org" in c.get("/sak/1836").text  # personal data behind login
    assert "Rødøy" in c.get("/").text
    assert c.get("/sak/1837").status_code == 404  # no case
    assert c.get("/sak/12ab").status_code == 422


def test_login_cookie_flags_and_wrong_password(db_url):
    make_user(db_url)
    c = client()
    token = csrf_of(c.get("/logg-inn").text)
    r = c.post("/logg-inn", data={"username": "kari", "password": "feil passord",
                                  "csrf_token": token})
    assert r.status_code == 401 and "Feil brukernavn eller passord" in r.text
    r = c.post("/logg-inn", data={"username": "kari", "password": PASSWORD,
                                  "csrf_token": token, "neste": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    s = client(base_url="https://testserver")
    token = csrf_of(s.get("/logg-inn").text)
    r = s.post("/logg-inn", data={"username": "kari", "password": PASSWORD, "csrf_token": token})
    assert "secure" in r.headers["set-cookie"].lower()


def test_login_without_csrf_token_is_refused(db_url):
    make_user(db_url)
    c = client()
    c.get("/logg-inn")
    r = c.post("/logg-inn", data={"username": "kari", "password": PASSWORD})
    assert r.status_code == 403
    assert c.get("/").status_code == 303


def test_logout(db_url):
    c = logged_in(db_url)
    token = csrf_of(c.get("/").text)
    assert c.post("/logg-ut", data={"csrf_token": token}).status_code == 303
    assert c.get("/").status_code == 303


@pytest.mark.parametrize("token", ["", "forfalsket"])
@pytest.mark.parametrize("path,data", [
    ("/sak/1836/fakta", {"fact": "meeting-held"}),
    ("/sak/1836/notat", {"theme": "other", "text": "hei"}),
    ("/sak/1836/vent", {"reason": "ferie"}),
    ("/sak/1836/oppgave", {"task_id": "1"}),
])
def test_forged_or_missing_csrf_token_is_refused_and_nothing_written(with_case, token, path,
                                                                      data):
    c = logged_in(with_case)
    before = events(with_case)
    r = c.post(path, data={**data, "csrf_token": token})
    assert r.status_code == 403
    assert "Ingenting ble lagret" in r.text
    assert events(with_case) == before


def test_invalid_date_comes_back_on_the_form_with_the_field_marked(with_case):
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    before = events(with_case)
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "meeting-held",
                                        "date": "31.02.2026", "reference": HOSTILE})
    assert r.status_code == 422
    assert 'id="fact-date"' in r.text and 'aria-invalid="true" aria-describedby="err-date"' in r.text
    assert "«31.02.2026» finnes ikke (februar 2026 har 28 dager)" in r.text
    assert 'value="31.02.2026"' in r.text  # what the user typed is kept
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text
    assert events(with_case) == before


def test_a_situation_belongs_to_the_needs_assessment(with_case):
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    before = events(with_case)
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "meeting-held",
                                        "situation": "Ingen fagutdannet leder."})
    assert r.status_code == 422
    assert 'id="fact-situation" name="situation" rows="4" aria-invalid="true"' in r.text
    assert "hører til «Kommunens behov er kartlagt»" in r.text
    assert "Ingen fagutdannet leder.</textarea>" in r.text  # what the user wrote is kept
    assert events(with_case) == before
    with db.session_scope(with_case) as s:
        assert s.exec(select(PersonalText)).all() == []


def test_missing_outcome_marks_the_outcome_field(with_case):
    for kind in ("meeting-held", "needs-assessed", "intent-confirmed"):
        record(with_case, "1836", kind, date(2026, 3, 2))
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "council-decision"})
    assert r.status_code == 422
    assert 'id="fact-outcome" name="outcome" aria-invalid="true"' in r.text
    # The message names the form's own labels, not the CLI's options.
    assert "«Kommunestyret har behandlet saken» krever «Utfall»" in r.text
    assert "--outcome" not in r.text and "council-decision»" not in r.text


def _fact_options(page: str) -> list[str]:
    """The facts the page's form offers, by their labels (the selected one marked *)."""
    select = re.search(r'<select id="fact-fact".*?</select>', page, re.S)
    if select is None:
        return []
    return [("*" if sel else "") + label for sel, label in re.findall(
        r'<option value="[^"]*"( selected)?>([^<]*)</option>', select.group(0))]


def test_the_fact_form_offers_what_can_happen_in_the_stage(with_case):
    c = logged_in(with_case)
    page = c.get("/sak/1836").text
    assert "Registrer hva som har skjedd" in page and "faktum" not in page
    assert _fact_options(page) == ["*Første møte med kommunen er holdt",
                                   "Kommunens behov er kartlagt",
                                   "Kommunen bekrefter at den vil gå videre"]
    record(with_case, "1836", "meeting-held", date(2026, 3, 10))
    # The most likely next one is preselected.
    assert _fact_options(c.get("/sak/1836").text)[1] == "*Kommunens behov er kartlagt"
    for kind in ("needs-assessed", "intent-confirmed"):
        record(with_case, "1836", kind, date(2026, 3, 12))
    page = c.get("/sak/1836").text
    assert _fact_options(page) == ["*Kommunestyret har behandlet saken",
                                   "Fylkeskommunen har behandlet saken"]
    # Labels above their fields: each label comes right before its own field.
    assert re.search(r'<label for="fact-outcome">Utfall</label>\s*<select id="fact-outcome"',
                     page)
    assert 'id="fact-start"' not in page and 'id="fact-party"' not in page


def test_a_case_in_setup_running_or_closed_offers_no_first_contact_facts(db_url, today):
    to_setup(db_url, "1836")
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    assert _fact_options(page) == [] and "Første møte med kommunen" not in page
    assert "Ingenting å registrere i fasen Systemoppsett" in page
    running = date(2026, 9, 1)
    with db.session_scope(db_url) as s:
        for t in case_detail(s, "1836", running)["tasks"]:
            if t["stage"] == "system_setup" and t["done_on"] is None:
                cases.complete_task(session=s, task_id=t["id"], on=date(2026, 6, 1),
                                    ctx=ctx_for(running))
        advance(s, "1836", running)
        assert case_detail(s, "1836", running)["stage"] == "running_operation"
    assert _fact_options(c.get("/sak/1836").text) == ["*Avtalen er sagt opp"]
    open_case(db_url, "1837", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        cases.withdraw(session=s, kommunenummer="1837", on=date(2026, 3, 5),
                       ctx=ctx_for(today))
    page = c.get("/sak/1837").text
    assert _fact_options(page) == [] and 'id="fact-form"' not in page
    assert "ingenting mer kan registreres" in page


def test_a_refusal_is_shown_once(with_case):
    record(with_case, "1836", "meeting-held", date(2026, 3, 10))
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    before = events(with_case)
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "meeting-held",
                                        "date": "2026-03-12"})
    assert r.status_code == 409
    assert r.text.count("er allerede registrert") == 1, r.text
    # A fact of another stage: its field is not on this form, so the message is the
    # form's general one, still once.
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "council-decision",
                                        "outcome": "kanskje"})
    assert r.status_code == 422
    assert r.text.count("«Utfall»: «kanskje» er ikke et gyldig valg") == 1
    assert "vedtatt, avslått, utsatt" in r.text and "--outcome" not in r.text
    assert events(with_case) == before


def test_hostile_input_is_rendered_literally(with_case, today):
    with db.session_scope(with_case) as s:
        people.add_note(session=s, kommunenummer="1836", theme=people.Theme.OTHER,
                        text=HOSTILE, on=today, ctx=ctx_for(today))
    c = logged_in(with_case)
    html = c.get("/sak/1836").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;{{7*7}}" in html
    # The note as rendered: Jinja must not have evaluated {{7*7}} (the form's random CSRF
    # token below it may contain "49", so only the note's own article is searched).
    note = html.split("Erfaringsnotater")[1].split("</article>")[0]
    assert "<script>" not in html and "{{7*7}}" in note and "49" not in note


def test_security_headers(db_url):
    r = client().get("/logg-inn")
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_session_secret_is_generated_once_and_private(db_url, tmp_path):
    client()
    path = tmp_path / "data" / "session_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_text()
    client()
    assert path.read_text() == first and len(first) >= 40


def test_no_secret_is_rendered(with_case, monkeypatch):
    """Secrets in the settings (SMTP password, webhook tokens) never reach a page."""
    monkeypatch.setenv("AVTALEFLYT_SMTP_URL", "smtp://kari:topphemmelig@smtp.example.org:587")
    monkeypatch.setenv("AVTALEFLYT_NOTIFY_URLS", "slack://hemmeligtoken/B1/C1")
    c = logged_in(with_case)
    for path in PAGES:
        text = c.get(path).text
        assert "topphemmelig" not in text and "hemmeligtoken" not in text
        assert "sqlite:" not in text and "postgresql" not in text


def test_board_columns_states_and_filters(db_url, today):
    open_case(db_url, "1836", date(2026, 1, 5))  # first-contact tasks overdue by now
    open_case(db_url, "1837", date(2026, 3, 10))  # meeting due 31 March: on track
    to_political(db_url, "1838", date(2026, 3, 2))
    c = logged_in(db_url)
    html = c.get("/").text
    col = html.split('data-stage="political_approval"')[1].split("</section>")[0]
    assert 'data-knr="1838"' in col
    assert 'class="card state-overdue" href="/sak/1836"' in html
    assert 'class="card state-on_track" href="/sak/1837"' in html
    county_only = c.get("/?ansvar=municipality").text
    assert 'data-knr="1836"' not in county_only
    held = c.get("/?status=on_hold").text
    assert 'data-knr="1836"' not in held and "med dette filteret" in held


def test_overdue_and_upcoming_pages(db_url, today):
    open_case(db_url, "1836", date(2026, 1, 5))
    open_case(db_url, "1837", date(2026, 3, 10))
    c = logged_in(db_url)
    overdue = c.get("/restanser").text
    assert "Hold første møte med kommunen" in overdue and "Rødøy" in overdue
    assert "Meløy" not in overdue
    # Rødøy's first meeting was due 26 January (21 days after 5 January): 53 days before today.
    assert '<td class="num overdue">53</td>' in overdue
    upcoming = c.get("/frister").text
    assert "Meløy" in upcoming and "Rødøy" not in upcoming


def test_calendar_feed(db_url, today):
    open_case(db_url, "1836", date(2026, 3, 2))
    make_user(db_url)
    with db.session_scope(db_url) as s:
        token = users.issue_feed_token(session=s, username="kari")
    c = client()
    r = c.get(f"/kalender/{token}.ics?ansvar=all")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    evs = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert len(evs) == 3 and all(u.startswith("task-") and u.endswith("@avtaleflyt") for u in evs)
    first = min(evs.values(), key=lambda e: e.decoded("dtstart"))
    assert first.decoded("dtstart") == date(2026, 3, 23)  # all-day
    assert str(first["summary"]) == "Rødøy: Hold første møte med kommunen"
    county = Calendar.from_ical(c.get(f"/kalender/{token}.ics?ansvar=county").content)
    assert len(list(county.walk("VEVENT"))) == 2
    assert c.get(f"/kalender/{token}.ics?ansvar=alle").status_code == 400
    # A moved deadline keeps its UID and gets a higher SEQUENCE.
    with db.session_scope(db_url) as s:
        cases.hold(session=s, kommunenummer="1836", on=today, reason=None, ctx=ctx_for(today))
    with db.session_scope(db_url) as s:
        later = date(2026, 4, 1)
        cases.resume(session=s, kommunenummer="1836", on=later, ctx=ctx_for(later))
    moved = {str(e["uid"]): e for e in
             Calendar.from_ical(c.get(f"/kalender/{token}.ics").content).walk("VEVENT")}
    assert moved.keys() == evs.keys()
    uid = str(first["uid"])
    assert moved[uid].decoded("dtstart") > first.decoded("dtstart")
    assert int(moved[uid]["sequence"]) > int(first["sequence"])
    assert "Ola" not in r.text
    with db.session_scope(db_url) as s:
        users.revoke_feed_tokens(session=s, username="kari")
    assert c.get(f"/kalender/{token}.ics").status_code == 404
    assert c.get("/kalender/gjettet.ics").status_code == 404


# --- forms that run the real flows -------------------------------------------------------


@pytest.mark.prefect
def test_forms_run_flows_and_redirect_with_a_message(with_case, prefect_server):
    import datetime as _dt

    # Prefect's server is shared by the whole session, and command ids restart with each
    # test's database: only runs created during this test are this test's.
    started = _dt.datetime.now(_dt.UTC)
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "meeting-held",
                                        "date": "10.03.2026"})
    assert r.status_code == 303 and r.headers["location"] == "/sak/1836"
    page = c.get("/sak/1836").text
    assert "Første møte holdt" in page and 'class="flash"' in page
    situation = "Én ansatt i 60 % stilling; biblioteksjefstillingen er ubesatt."
    for kind in ("needs-assessed", "intent-confirmed"):
        extra = {"situation": situation} if kind == "needs-assessed" else {}
        assert c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": kind, **extra}
                      ).status_code == 303
    page = c.get("/sak/1836").text
    assert "Ny fase: Politisk behandling" in page
    # The situation written with the needs assessment is in the saksframlegg draft.
    draft = c.get("/sak/1836/dokument/saksframlegg/1.html")
    assert draft.status_code == 200 and situation in draft.text
    # The form sends the Norwegian word; the event stores the key scripts use.
    assert '<option value="vedtatt">Vedtatt</option>' in page
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "council-decision",
                                        "outcome": "vedtatt"})
    assert r.status_code == 303
    with db.session_scope(with_case) as s:
        decision = s.exec(select(Event).where(Event.kind == "council_decision")).one()
    assert decision.details["outcome"] == "approved"
    assert "Kommunestyrets vedtak i Rødøy er registrert: vedtatt." in c.get("/sak/1836").text
    with db.session_scope(with_case) as s:
        recorded_by = {e.recorded_by for e in s.exec(select(Event)
                                                       .where(Event.kind == "meeting_held"))}
        # The stage change happens in a stage subflow, which gets no actor parameter (it
        # would be kept in Prefect): the logged-in user still reaches it.
        entered_by = {e.recorded_by for e in s.exec(select(Event)
                                                     .where(Event.kind == "stage_entered"))}
    assert recorded_by == {"kari"} and entered_by == {"kari"}
    r = c.post("/sak/1836/notat", data={"csrf_token": token, "theme": "engagement",
                                        "text": "Godt møte med ordføreren"})
    assert r.status_code == 303
    r = c.post("/sak/1836/notat", data={"csrf_token": token, "theme": "responsibility_split",
                                        "text": "Avklar grenseoppgangen tidlig",
                                        "share": "ja"})
    assert r.status_code == 303
    with db.session_scope(with_case) as s:
        from avtaleflyt.models import PersonalText

        assert s.exec(select(PersonalText.text, ExperienceNote.shared)
                      .join(PersonalText, PersonalText.id == ExperienceNote.text_id)
                      .order_by(ExperienceNote.id)).all() == [
            ("Godt møte med ordføreren", False), ("Avklar grenseoppgangen tidlig", True)]
    assert "delt med andre fylker" in c.get("/sak/1836").text
    assert c.post("/sak/1836/vent", data={"csrf_token": token, "reason": "valg"}
                  ).status_code == 303
    assert "På vent" in c.get("/sak/1836").text
    assert c.post("/sak/1836/gjenoppta", data={"csrf_token": token}).status_code == 303
    assert "Saken for Rødøy er gjenopptatt" in c.get("/sak/1836").text
    # Every action was a flow run in Prefect, given only its command's id: the acting user
    # is in our command table, never in Prefect.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from avtaleflyt.models import Command

    with db.session_scope(with_case) as s:
        commands = {c.id: c for c in s.exec(select(Command)).all()}
    assert {c.actor for c in commands.values()} == {"kari"} and len(commands) >= 7
    names = ["record-fact", "add-note", "change-case-status"]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=names)))
    ours = [r for r in runs if r.created is not None and r.created >= started
            and r.parameters.get("command_id") in commands]
    # Each command's last run completed. An earlier run of the same command may have
    # failed: the busy local Prefect server can answer 503, and the command is run again
    # (the user sees one answer; the command inbox makes the repeat change nothing twice).
    last: dict[int, Any] = {}
    for r in sorted(ours, key=lambda r: r.created):
        last[r.parameters["command_id"]] = r
    assert len(last) >= 6 and all(r.state.is_completed() for r in last.values()), [
        (r.name, r.state.type, r.state.message) for r in ours]
    assert all(set(r.parameters) == {"command_id"} for r in ours)
    # Readable in Prefect's UI: the action, the municipality, the command's id; and tags
    # a coordinator can filter by.
    for r in ours:
        assert r.name.startswith(f"{r.name.split(' ', 1)[0]} 1836 Rødøy")
        assert r.name.endswith(f" #{r.parameters['command_id']}")
        assert {"fylke:18", "kommune:1836"} <= set(r.tags), r.tags
    facts = [r.name for r in ours if r.name.startswith("record-fact")]
    assert facts and all(": " in n for n in facts), facts


@pytest.mark.prefect
def test_domain_refusal_comes_back_on_the_form(with_case, prefect_server):
    c = logged_in(with_case)
    token = csrf_of(c.get("/sak/1836").text)
    before = events(with_case)
    # The municipality cannot decide before the case has reached political approval.
    r = c.post("/sak/1836/fakta", data={"csrf_token": token, "fact": "council-decision",
                                        "outcome": "approved", "reference": HOSTILE})
    assert r.status_code == 409
    assert 'class="error"' in r.text and "&lt;script&gt;" in r.text
    assert events(with_case) == before


@pytest.mark.prefect
def test_complete_task_form(db_url, monkeypatch, prefect_server):
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-06-01")
    to_setup(db_url, "1836")
    with db.session_scope(db_url) as s:
        tasks = case_detail(s, "1836", date(2026, 6, 1))["tasks"]
    setup = [t for t in tasks if t["stage"] == "system_setup"]
    milestone = next(t for t in tasks if t["closes_with_fact"])
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    token = csrf_of(page)
    assert f'name="task_id" value="{setup[0]["id"]}"' in page
    assert f'name="task_id" value="{milestone["id"]}"' not in page  # closed by a fact
    r = c.post("/sak/1836/oppgave", data={"csrf_token": token, "task_id": str(setup[0]["id"]),
                                          "date": "29.05.2026"})
    assert r.status_code == 303
    with db.session_scope(db_url) as s:
        done = {t["id"]: t["done_on"] for t in case_detail(s, "1836", date(2026, 6, 1))["tasks"]}
    assert done[setup[0]["id"]] == "2026-05-29"
    open_case(db_url, "1837", date(2026, 5, 4))
    before = events(db_url)
    r = c.post("/sak/1836/oppgave", data={"csrf_token": token, "task_id": "999999"})
    assert r.status_code == 404 and "hører ikke til denne saken" in r.text
    # Another municipality's task cannot be completed from this case's page.
    with db.session_scope(db_url) as s:
        other = case_detail(s, "1837", date(2026, 6, 1))["tasks"][0]["id"]
    r = c.post("/sak/1836/oppgave", data={"csrf_token": token, "task_id": str(other)})
    assert r.status_code == 404
    with db.session_scope(db_url) as s:
        assert case_detail(s, "1837", date(2026, 6, 1))["tasks"][0]["done_on"] is None
    r = c.post("/sak/1836/oppgave", data={"csrf_token": token,
                                          "task_id": str(setup[1]["id"]), "date": "i går"})
    assert r.status_code == 422 and "ikke en gyldig dato" in r.text
    r = c.post("/sak/1836/oppgave", data={"csrf_token": token,
                                          "task_id": str(milestone["id"])})
    assert r.status_code == 409 and "lukkes av seg selv når du registrerer" in r.text
    assert events(db_url) == before


def test_documents_are_listed_and_downloaded_behind_login(with_case, today):
    from avtaleflyt.services.documents import store_document

    with db.session_scope(with_case) as s:
        store_document(session=s, kind="agreement", ctx=ctx_for(today), kommunenummer="1836")
    link = "/sak/1836/dokument/agreement/1.html"
    assert client().get(link).status_code == 303
    c = logged_in(with_case)
    assert f'href="{link}"' in c.get("/sak/1836").text
    r = c.get(link)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert "Rødøy" in r.text
    assert c.get("/sak/1836/dokument/agreement/2.html").status_code == 404
    assert c.get("/sak/1836/dokument/..%2F..%2Fsession_secret/1.html").status_code == 404

    # The PDF/A version is listed and downloaded the same way, as a PDF.
    with db.session_scope(with_case) as s:
        store_document(session=s, kind="databehandleravtale", ctx=ctx_for(today),
                       kommunenummer="1836", formats=("pdf",))
    pdf = "/sak/1836/dokument/databehandleravtale/1.pdf"
    page = c.get("/sak/1836").text
    assert f'href="{pdf}"' in page and "Databehandleravtale, versjon 1 (PDF)" in page
    r = c.get(pdf)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.content.startswith(b"%PDF-")


def test_meetings_on_the_case_page_and_in_the_forecast(db_url, today):
    from avtaleflyt.services.meetings import add_meeting

    to_political(db_url, "1836", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        add_meeting(session=s, kommunenummer="1836", body="kommunestyre", on=date(2026, 6, 18),
                    title=HOSTILE, ctx=ctx_for(today))
    c = logged_in(db_url)
    page = c.get("/sak/1836").text
    assert "18. juni 2026: Kommunestyret – &lt;script&gt;" in page
    stats = c.get("/statistikk").text
    assert "<td>18. juni 2026</td>" in stats


def test_unknown_addresses_get_a_norwegian_page(db_url):
    c = logged_in(db_url)
    r = c.get("/finnes-ikke")
    assert r.status_code == 404 and "Siden finnes ikke." in r.text and "<html" in r.text
    r = c.get("/sak/1836/dokument/agreement/en.html")
    assert r.status_code == 404 and "Siden finnes ikke." in r.text
    r = c.get("/kalender/x.ics?ansvar=alle")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
    assert "«ansvar» må være" in r.text


def test_assigned_contact_is_named_on_the_card_and_the_task(with_case, today):
    from avtaleflyt.services.queries import municipality_contacts

    with db.session_scope(with_case) as s:
        intent = next(t for t in case_detail(s, "1836", today)["tasks"]
                      if t["key"] == "first_contact.intent")
        contact = municipality_contacts(s, "1836")[0]["id"]
        people.assign_task(session=s, task_id=intent["id"], contact_id=contact,
                           ctx=ctx_for(today))
    c = logged_in(with_case)
    assert "(Ola Nordmann)" not in c.get("/").text  # the next deadline is the county's
    page = c.get("/sak/1836").text
    row = page.split("Kommunen bekrefter at den vil gå videre")[1].split("</tr>")[0]
    assert "<small>Ola Nordmann</small>" in row
    for kind in ("meeting-held", "needs-assessed"):  # the county's tasks are done
        record(with_case, "1836", kind, today)
    assert "Kommunen (Ola Nordmann)" in c.get("/").text
