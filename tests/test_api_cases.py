"""/api/v1 cases and tasks: auth per route, county scope, validation, preflight, paging,
and (with a real Prefect server, started once for the module's flow tests) writes that run
as flow runs with the token's user, idempotent under a repeated Idempotency-Key."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import func, select

from avtaleflyt import db, runtime
from avtaleflyt.models import AccessLog, Command, Event
from avtaleflyt.services import people, tokens
from avtaleflyt.services.queries import case_detail, municipality_contacts

from .conftest import ctx_for
from .web_support import client, make_user, open_case, to_political, to_setup

TODAY = date(2026, 6, 1)

# Every case/task route, with a body that would be accepted (given a token).
ROUTES = [
    ("GET", "/api/v1/cases", None),
    ("POST", "/api/v1/cases", {"kommunenummer": "1837"}),
    ("GET", "/api/v1/cases/1836", None),
    ("POST", "/api/v1/cases/1836/facts", {"fact": "meeting-held"}),
    ("POST", "/api/v1/cases/1836/hold", {}),
    ("POST", "/api/v1/cases/1836/resume", {}),
    ("POST", "/api/v1/cases/1836/withdraw", {}),
    ("POST", "/api/v1/cases/1836/advance", {}),
    ("POST", "/api/v1/cases/1836/notes", {"text": "Et notat"}),
    ("POST", "/api/v1/tasks/done", {"task_ids": [1]}),
    ("POST", "/api/v1/tasks/1/assign", {}),
]


@pytest.fixture
def api(sqlite_url, monkeypatch):
    """Rødøy (1836) in first contact; kari (Nordland) and tove (Troms) with tokens."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    open_case(sqlite_url, "1836", date(2026, 3, 2))
    make_user(sqlite_url, "kari", "18")
    make_user(sqlite_url, "tove", "55")
    with db.session_scope(sqlite_url) as s:
        kari = tokens.create_token(session=s, name="t", username="kari")[1]
        tove = tokens.create_token(session=s, name="t", username="tove")[1]
    return {"url": sqlite_url, "kari": {"Authorization": f"Bearer {kari}"},
            "tove": {"Authorization": f"Bearer {tove}"}, "c": client()}


def _call(c, method: str, path: str, body, headers=None):
    return c.request(method, path, json=body, headers=headers or {})


def _count(url: str, model) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _problem(r, status: int, field: str | None = "*") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["detail"] and body["title"]
    if field != "*":
        assert body["field"] == field, body
    return body


@pytest.fixture
def no_flows(monkeypatch):
    """A refusal must come before any flow run: running a command fails the test."""
    def refuse(*a, **kw):
        raise AssertionError("a flow was started for a refused request")

    monkeypatch.setattr(runtime, "run_command", refuse)
    monkeypatch.setattr(runtime, "run_flow", refuse)


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_needs_a_token(api, no_flows, method, path, body):
    _problem(_call(api["c"], method, path, body), 401)
    _problem(_call(api["c"], method, path, body, {"Authorization": "Bearer avt_gjettet"}), 401)


@pytest.mark.parametrize("method,path,body", [r for r in ROUTES if "1836" in r[1]])
def test_another_countys_case_is_not_found(api, no_flows, method, path, body):
    """Troms' coordinator gets exactly the answer for a municipality that does not exist."""
    r = _problem(_call(api["c"], method, path, body, api["tove"]), 404, "kommunenummer")
    unknown = _problem(_call(api["c"], method, path.replace("1836", "1899"), body,
                             api["tove"]), 404)
    assert r["detail"] == unknown["detail"].replace("1899", "1836")
    assert r["error"] == "NotFound" and r["exit_code"] == 1


def test_another_countys_task_is_not_found(api, no_flows):
    with db.session_scope(api["url"]) as s:
        task_id = case_detail(s, "1836", TODAY)["tasks"][0]["id"]
    for theirs_id, unknown_id in ((task_id, 99999),):
        for path, body in (("/api/v1/tasks/{}/assign", {}),
                           ("/api/v1/tasks/done", {"task_ids": ["{}"]})):
            def call(i):
                b = {"task_ids": [i]} if body else {}
                return api["c"].post(path.format(i), json=b, headers=api["tove"])

            theirs = _problem(call(theirs_id), 404, "task_id")
            unknown = _problem(call(unknown_id), 404, "task_id")
            assert theirs["detail"] == unknown["detail"].replace(str(unknown_id),
                                                                 str(theirs_id))


@pytest.mark.parametrize("path,body,field,words", [
    ("/api/v1/cases", {}, "kommunenummer", "mangler"),
    ("/api/v1/cases", {"kommunenummer": "18x6"}, "kommunenummer", "fire siffer"),
    ("/api/v1/cases", {"kommunenummer": "1837", "date": "31.02.2026"}, "date", "--date"),
    ("/api/v1/cases", {"kommunenummer": "1837", "kommune": "x"}, "kommune", "kjent felt"),
    ("/api/v1/cases/1836/facts", {}, "fact", "mangler"),
    ("/api/v1/cases/1836/facts", {"fact": "tea-party"}, "fact", "tea-party"),
    ("/api/v1/cases/1836/facts", {"fact": "council-decision", "outcome": "kanskje"},
     "outcome", "--outcome"),
    ("/api/v1/cases/1836/facts", {"fact": "meeting-held", "years": 3}, "years", "--years"),
    ("/api/v1/cases/1836/facts", {"fact": "council-decision"}, "outcome", "--outcome"),
    ("/api/v1/cases/1836/facts", {"fact": "meeting-held", "date": "2030-01-01"}, "date",
     "frem i tid"),
    ("/api/v1/cases/1836/hold", {"reason": "x" * 501}, "reason", "--reason"),
    ("/api/v1/cases/1836/notes", {"text": " "}, "text", "--text"),
    ("/api/v1/cases/1836/notes", {"text": "Notat", "theme": "vær"}, "theme", "vær"),
    ("/api/v1/cases/1836/notes", {"text": "Notat", "share": "kanskje"}, "share", "true"),
    ("/api/v1/tasks/done", {"task_ids": []}, "task_id", "minst én"),
    ("/api/v1/tasks/done", {"task_ids": ["tre"]}, "task_id", "heltall"),
    ("/api/v1/tasks/done", {"task_ids": 3}, "task_ids", "liste"),
])
def test_bad_input_is_a_422_problem_naming_the_field(api, no_flows, path, body, field, words):
    before = (_count(api["url"], Event), _count(api["url"], Command))
    r = _problem(api["c"].post(path, json=body, headers=api["kari"]), 422, field)
    assert words in r["detail"], r["detail"]
    assert r["error"] in ("InvalidInput", "InvalidValue") and r["exit_code"] == 2
    assert (_count(api["url"], Event), _count(api["url"], Command)) == before


def test_malformed_json_and_a_bad_idempotency_key_are_422(api, no_flows):
    r = api["c"].post("/api/v1/cases", content=b"{not json",
                      headers={**api["kari"], "Content-Type": "application/json"})
    assert "JSON" in _problem(r, 422, None)["detail"]
    r = api["c"].post("/api/v1/cases", json={"kommunenummer": "1837"},
                      headers={**api["kari"], "Idempotency-Key": "kort"})
    assert "Idempotency-Key" in _problem(r, 422, "idempotency_key")["detail"]


@pytest.mark.parametrize("path,body,status,words", [
    # a fact of a later stage
    ("/api/v1/cases/1836/facts", {"fact": "council-decision", "outcome": "vedtatt"}, 409,
     "Politisk behandling"),
    # a second open case
    ("/api/v1/cases", {"kommunenummer": "1836"}, 409, "åpen sak"),
    # a case that is not on hold
    ("/api/v1/cases/1836/resume", {}, 409, "vent"),
    # a note dated before the case was opened (before, only the flow refused it)
    ("/api/v1/cases/1836/notes", {"text": "Notat", "date": "2026-01-05"}, 422,
     "før saken ble åpnet"),
    # an unknown task
    ("/api/v1/tasks/done", {"task_ids": [99999]}, 404, "99999"),
    # no case for the municipality
    ("/api/v1/cases/1837/hold", {}, 404, "sak"),
])
def test_refusals_come_before_any_flow_starts(api, no_flows, path, body, status, words):
    before = (_count(api["url"], Event), _count(api["url"], Command))
    r = _problem(api["c"].post(path, json=body, headers=api["kari"]), status)
    assert words in r["detail"], r["detail"]
    assert (_count(api["url"], Event), _count(api["url"], Command)) == before


def test_several_tasks_are_all_checked_first(api, no_flows):
    with db.session_scope(api["url"]) as s:
        ids = [t["id"] for t in case_detail(s, "1836", TODAY)["tasks"]][:2]
    r = _problem(api["c"].post("/api/v1/tasks/done", json={"task_ids": [*ids, 99999]},
                               headers=api["kari"]), 409)  # as the first refusal
    assert "lukkes av seg selv" in r["detail"] and "Oppgave 99999: finnes ikke." in r["detail"]
    assert "Ingen av de 3 oppgavene ble markert som gjort." in r["detail"]


def test_case_list_is_paged_and_filtered(api):
    for knr in ("1837", "1838", "1839", "1840"):
        open_case(api["url"], knr, date(2026, 3, 2))
    to_political(api["url"], "1841", date(2026, 3, 2))
    open_case(api["url"], "5501", date(2026, 3, 2))  # Troms: not kari's
    c, h = api["c"], api["kari"]
    r = c.get("/api/v1/cases", params={"per_page": 2, "page": 2}, headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["total"], page["page"], page["per_page"]) == (6, 2, 2)
    assert [row["kommunenummer"] for row in page["items"]] == ["1838", "1839"]
    assert set(page["items"][0]) == {"kommunenummer", "municipality", "county_code", "county",
                                     "stage", "status", "next_deadline", "overdue_tasks"}
    last = c.get("/api/v1/cases", params={"per_page": 4, "page": 2}, headers=h).json()
    assert [row["kommunenummer"] for row in last["items"]] == ["1840", "1841"]
    assert c.get("/api/v1/cases", params={"page": 9}, headers=h).json()["items"] == []
    r = c.get("/api/v1/cases", params={"stage": "political_approval"}, headers=h).json()
    assert [row["kommunenummer"] for row in r["items"]] == ["1841"] and r["total"] == 1
    assert c.get("/api/v1/cases", params={"county": "55"}, headers=h).json()["total"] == 0
    troms = c.get("/api/v1/cases", headers=api["tove"]).json()
    assert [row["kommunenummer"] for row in troms["items"]] == ["5501"]
    _problem(c.get("/api/v1/cases", params={"per_page": 101}, headers=h), 422, "per_page")
    _problem(c.get("/api/v1/cases", params={"page": 0}, headers=h), 422, "page")
    _problem(c.get("/api/v1/cases", params={"stage": "drift"}, headers=h), 422, "stage")
    _problem(c.get("/api/v1/cases", params={"county": "99"}, headers=h), 422, "county")


def test_show_case_is_case_show_json_and_is_logged(api):
    with db.session_scope(api["url"]) as s:
        people.add_contact(session=s, kommunenummer="1836", name="Ola Nordmann",
                           role="kultursjef", email="ola@example.org", phone=None,
                           primary=True, ctx=ctx_for(TODAY))
        expected = case_detail(s, "1836", TODAY)
    r = api["c"].get("/api/v1/cases/1836", headers=api["kari"])
    assert r.status_code == 200, r.text
    assert r.json() == expected
    with db.session_scope(api["url"]) as s:
        log = s.exec(select(AccessLog)).all()
    assert [(a.username, a.action, a.kommunenummer) for a in log] == [
        ("kari", "api_case", "1836")]


# --- writes through real flow runs (one Prefect server for the whole module) ---------------


def _events(url: str, kind: str | None = None) -> list[Event]:
    with db.session_scope(url) as s:
        q = select(Event).order_by(Event.id)
        return list(s.exec(q.where(Event.kind == kind) if kind else q).all())


@pytest.mark.prefect
def test_case_writes_run_as_the_tokens_user_and_are_idempotent(api, prefect_server):
    c, h, url = api["c"], api["kari"], api["url"]
    # Open (201) — the same key twice: one case, one answer.
    once = {**h, "Idempotency-Key": "open-1837-aaaa"}
    r1 = c.post("/api/v1/cases", json={"kommunenummer": "1837", "date": "2026-05-04"},
                headers=once)
    assert r1.status_code == 201, r1.text
    r2 = c.post("/api/v1/cases", json={"kommunenummer": "1837", "date": "2026-05-04"},
                headers=once)
    assert r2.status_code == 201 and r2.json() == r1.json()
    assert r1.json()["idempotency_key"] == "open-1837-aaaa"
    assert "Meløy" in r1.json()["message"] and r1.json()["next_step"]["due_on"]
    assert len(_events(url, "case_opened")) == 2  # 1836 (fixture) and 1837, once

    # Facts with Norwegian names and values, numbers as JSON numbers; one event per key.
    key = {**h, "Idempotency-Key": "fact-1836-meeting"}
    first = c.post("/api/v1/cases/1836/facts", json={"fact": "meeting-held",
                                                     "date": "10.03.2026"}, headers=key)
    assert first.status_code == 200, first.text
    again = c.post("/api/v1/cases/1836/facts", json={"fact": "meeting-held",
                                                     "date": "10.03.2026"}, headers=key)
    assert again.json() == first.json()
    assert len(_events(url, "meeting_held")) == 1
    for fact in ({"fact": "needs-assessed", "situation": "Én ansatt i 40 % stilling."},
                 {"fact": "vil-videre"}):
        r = c.post("/api/v1/cases/1836/facts", json=fact, headers=h)
        assert r.status_code == 200, r.text
    assert [t["to"] for t in r.json()["transitions"]] == ["political_approval"]
    assert r.json()["stage"] == "political_approval"
    r = c.post("/api/v1/cases/1836/facts", json={"fact": "council-decision",
                                                 "outcome": "vedtatt", "reference": "PS 1/26"},
               headers=h)
    assert r.status_code == 200, r.text
    assert _events(url, "council_decision")[0].details["outcome"] == "approved"

    # Hold, resume, withdraw a second case; notes; everything recorded as kari.
    r = c.post("/api/v1/cases/1836/hold", json={"reason": "Kommunevalg"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "on_hold", r.text
    assert "vent" in r.json()["next_step"]["text"]
    assert c.post("/api/v1/cases/1836/resume", headers=h).json()["status"] == "active"
    r = c.post("/api/v1/cases/1836/notes", json={"text": "Godt møte med rådmannen",
                                                 "theme": "Engasjement", "share": True},
               headers={**h, "Idempotency-Key": "note-1836-0001"})
    assert r.status_code == 200 and "delt med andre fylker" in r.json()["message"], r.text
    c.post("/api/v1/cases/1836/notes", json={"text": "Godt møte med rådmannen",
                                             "theme": "Engasjement", "share": True},
           headers={**h, "Idempotency-Key": "note-1836-0001"})
    assert len(_events(url, "note_added")) == 1
    r = c.post("/api/v1/cases/1837/withdraw", json={"reason": "Ikke aktuelt nå"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    r = c.post("/api/v1/cases/1837/hold", json={}, headers=h)  # closed: refused, 409
    _problem(r, 409)
    mine = {e.recorded_by for e in _events(url) if e.kind != "case_opened"}
    assert mine == {"kari"}
    with db.session_scope(url) as s:
        assert {cmd.actor for cmd in s.exec(select(Command)).all()} == {"kari"}
    r = c.get("/api/v1/cases/1836", headers=h).json()
    assert [n["text"] for n in r["notes"]] == ["Godt møte med rådmannen"]


@pytest.mark.prefect
def test_tasks_done_assign_and_advance(api, prefect_server, monkeypatch):
    c, h, url = api["c"], api["kari"], api["url"]
    to_setup(url, "1837")
    with db.session_scope(url) as s:
        d = case_detail(s, "1837", date(2026, 6, 1))
        people.add_contact(session=s, kommunenummer="1837", name="Per Hansen",
                           role="IT-leder", email="per@example.org", phone=None,
                           primary=False, ctx=ctx_for(TODAY))
        contact_id = municipality_contacts(s, "1837")[0]["id"]
    setup = [t for t in d["tasks"] if t["stage"] == "system_setup" and not t["done_on"]]
    municipal = next(t for t in setup if t["responsible"] == "municipality")
    r = c.post(f"/api/v1/tasks/{municipal['id']}/assign", json={"contact_id": contact_id},
               headers=h)
    assert r.status_code == 200 and "ny ansvarlig" in r.json()["message"], r.text
    # Two tasks at once, twice with the same key: each is done once; the same answers.
    ids = [setup[0]["id"], setup[1]["id"]]
    key = {**h, "Idempotency-Key": "done-two-tasks"}
    first = c.post("/api/v1/tasks/done", json={"task_ids": ids, "date": "29.05.2026"},
                   headers=key)
    assert first.status_code == 200, first.text
    assert len(first.json()) == 2 and all("gjort" in x["message"] for x in first.json())
    again = c.post("/api/v1/tasks/done", json={"task_ids": ids, "date": "29.05.2026"},
                   headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    done = [e for e in _events(url, "task_done") if e.details.get("task_id") in ids]
    assert len(done) == 2 and {e.recorded_by for e in done} == {"kari"}
    # Done once: doing it again under a new key is refused before a flow starts.
    r = c.post("/api/v1/tasks/done", json={"task_ids": [ids[0]]}, headers=h)
    _problem(r, 409)
    # The rest of the setup, then advance: running operation from the start date.
    rest = [t["id"] for t in setup if t["id"] not in ids and t["mandatory"]]
    r = c.post("/api/v1/tasks/done", json={"task_ids": rest}, headers=h)
    assert r.status_code == 200, r.text
    monkeypatch.setenv("AVTALEFLYT_TODAY", "2026-09-01")  # a new day: a new server process
    runtime.forget_process_settings()
    c = client()
    r = c.post("/api/v1/cases/1837/advance", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "running_operation" and "videre" in r.json()["message"]
    assert _events(url, "stage_entered")[-1].recorded_by == "kari"
    r = c.post("/api/v1/cases/1837/advance", json={}, headers=h)
    assert r.json()["message"] == "Ingen endring: saken venter fortsatt."


def test_another_users_idempotency_key_is_refused(api, no_flows):
    """A key names one user's command: another user (here a national one, who may see the
    case) gets a 409, never the first user's answer."""
    from avtaleflyt.services import inbox

    make_user(api["url"], "nina", None)
    with db.session_scope(api["url"]) as s:
        inbox.submit(session=s, key="kari-note-0001", kind="add_note", actor="kari",
                     params={"kommunenummer": "1836", "theme": "other", "text": "Hei"})
        nina = tokens.create_token(session=s, name="t", username="nina")[1]
    r = api["c"].post("/api/v1/cases/1836/notes", json={"text": "Hei"},
                      headers={"Authorization": f"Bearer {nina}",
                               "Idempotency-Key": "kari-note-0001"})
    assert "Idempotency-Key" in _problem(r, 409, "idempotency_key")["detail"]


def test_prefect_unavailable_is_a_503_problem_with_the_clis_exit_code(api, monkeypatch):
    from avtaleflyt import prefect_faults as pf

    def down(kind, *, key=None, **kw):
        raise pf.unavailable_before("http://127.0.0.1:4200/api", key)

    monkeypatch.setattr(runtime, "run_command", down)
    r = api["c"].post("/api/v1/cases/1836/facts", json={"fact": "meeting-held"},
                      headers={**api["kari"], "Idempotency-Key": "retry-me-later"})
    body = _problem(r, 503, None)
    assert body["error"] == "PrefectUnavailable" and body["exit_code"] == 3
    assert "Ingenting ble lagret" in body["detail"] and "retry-me-later" in body["detail"]


def test_an_unexpected_error_is_a_500_problem_with_a_reference(api, monkeypatch):
    from fastapi.testclient import TestClient

    from avtaleflyt.web.app import create_app

    def broken(*a, **kw):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("avtaleflyt.services.queries.case_detail", broken)
    c = TestClient(create_app(), raise_server_exceptions=False)
    body = _problem(c.get("/api/v1/cases/1836", headers=api["kari"]), 500, None)
    assert "referansen" in body["detail"] and "secret" not in body["detail"]


def test_paged_pages_a_query_in_the_database(db_url):
    """`paged` of a SELECT counts and fetches one page in SQL, on both backends."""
    from avtaleflyt.models import Municipality
    from avtaleflyt.web.api.base import paged

    query = (select(Municipality.kommunenummer).where(Municipality.kommunenummer.like("18%"))
             .order_by(Municipality.kommunenummer))
    with db.session_scope(db_url) as s:
        everything = list(s.exec(query).all())
        page = paged(query, 2, 10, session=s)
    assert page["total"] == len(everything) == 41
    assert (page["page"], page["per_page"]) == (2, 10)
    assert page["items"] == everything[10:20]
    assert paged(everything, 5, 10)["items"] == everything[40:]
