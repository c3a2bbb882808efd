"""The JSON API's contact persons (/api/v1/cases/KNR/contacts, /api/v1/contacts/ID):
the CLI's answers and messages, county scope, validation, idempotency and paging. No flow
runs here: contacts are personal data and are never a flow's parameters."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import AccessLog, Command, ContactPerson, Event
from avtaleflyt.services import people

from .api_rest_support import Api, count, problem
from .conftest import ctx_for
from .web_support import client, open_case

TODAY = date(2026, 3, 20)
runner = CliRunner()


@pytest.fixture
def world(db_url, monkeypatch):
    """Rødøy (Nordland) with a case and one contact; Oslo (another county) with one."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    open_case(db_url, "1836", date(2026, 3, 2))
    with db.session_scope(db_url) as s:
        for knr, email in (("1836", "ola@example.org"), ("0301", "oslo@example.org")):
            people.add_contact(session=s, kommunenummer=knr, name="Ola Nordmann",
                               role="kultursjef", email=email, phone=None, primary=True,
                               ctx=ctx_for(TODAY))
    return db_url


def _contact_id(url: str, email: str) -> int:
    with db.session_scope(url) as s:
        from sqlmodel import select

        return s.exec(select(ContactPerson.id).where(ContactPerson.email == email)).one()


def test_every_contact_route_needs_a_token(world):
    c = client()
    oslo = _contact_id(world, "oslo@example.org")
    for method, path in (("GET", "/cases/1836/contacts"), ("POST", "/cases/1836/contacts"),
                         ("GET", f"/contacts/{oslo}"), ("PATCH", f"/contacts/{oslo}"),
                         ("DELETE", f"/contacts/{oslo}")):
        for headers in ({}, {"Authorization": "Bearer avt_feil-token"}):
            r = c.request(method, "/api/v1" + path, json={"name": "X"}, headers=headers)
            body = problem(r, 401)
            assert "ola" not in r.text.lower()
            assert r.headers["www-authenticate"].startswith("Bearer"), body
    assert count(world, ContactPerson) == 2


def test_add_edit_erase_answer_as_the_cli_does(world):
    api = Api(world)
    r = api.post("/cases/1836/contacts", json={
        "name": "Kari Nordmann", "role": "kommunedirektør", "email": "kari@example.org",
        "phone": "+47 900 00 000", "primary": True})
    assert r.status_code == 201, r.text
    answer = r.json()
    cli = runner.invoke(app, ["contact", "add", "1836", "--name", "Per Hansen", "--role",
                              "rådgiver", "--email", "per@example.org", "--json"])
    assert cli.exit_code == 0, cli.output
    assert answer == json.loads(cli.output)  # the same dict, next step included
    assert answer["message"] == "Kontaktperson lagt til for Rødøy."
    assert answer["next_step"]["text"]

    listed = api.get("/cases/1836/contacts").json()
    cli_list = json.loads(runner.invoke(app, ["contact", "list", "1836", "--json"]).output)
    assert listed == {"items": cli_list, "total": 3, "page": 1, "per_page": 50}
    assert listed["items"][0]["email"] == "kari@example.org"  # the new primary comes first
    # Reading personal data through the API is in the access log, by the token's user.
    with db.session_scope(world) as s:
        from sqlmodel import select

        log = s.exec(select(AccessLog).where(AccessLog.action == "contact_list")).one()
        assert (log.username, log.kommunenummer) == ("kari", "1836")

    kari = _contact_id(world, "kari@example.org")
    one = api.get(f"/contacts/{kari}").json()
    assert one == {**listed["items"][0], "kommunenummer": "1836", "municipality": "Rødøy"}
    r = api.patch(f"/contacts/{kari}", json={"phone": "", "role": "rådmann"})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Kontaktpersonen i Rødøy er rettet."
    with db.session_scope(world) as s:
        c = s.get(ContactPerson, kari)
        assert (c.role, c.phone, c.is_primary) == ("rådmann", None, True)

    r = api.delete(f"/contacts/{kari}")
    assert r.status_code == 200, r.text
    assert r.json()["message"].startswith(f"Kontaktpersonen (id {kari}) er slettet fra Rødøy")
    assert count(world, ContactPerson, ContactPerson.id == kari) == 0
    assert count(world, Event, Event.kind == "contact_erased") == 1
    # The erased contact is gone: a second erase is "not found".
    problem(api.delete(f"/contacts/{kari}"), 404, "contact_id")


def test_another_countys_contacts_are_not_found(world):
    api = Api(world)  # a Nordland user
    oslo = _contact_id(world, "oslo@example.org")
    unknown = problem(api.get("/cases/9999/contacts"), 404, "kommunenummer")
    other = problem(api.get("/cases/0301/contacts"), 404, "kommunenummer")
    # The same words as for a municipality that does not exist: nothing tells it is there.
    assert other["detail"] == unknown["detail"].replace("9999", "0301")
    problem(api.post("/cases/0301/contacts", json={
        "name": "Ny", "role": "rådmann", "email": "ny@example.org"}), 404, "kommunenummer")
    problem(api.get(f"/contacts/{oslo}"), 404, "contact_id")
    gone = problem(api.patch(f"/contacts/{oslo}", json={"role": "rådmann"}), 404, "contact_id")
    assert gone["detail"] == f"Fant ingen kontaktperson med id {oslo}."
    problem(api.delete(f"/contacts/{oslo}"), 404, "contact_id")
    with db.session_scope(world) as s:
        c = s.get(ContactPerson, oslo)
        assert c is not None and c.role == "kultursjef"
    # A national user reaches it.
    national = Api(world, "nasjonal", county=None)
    assert national.get("/cases/0301/contacts").json()["total"] == 1


@pytest.mark.parametrize("body, field, words", [
    ({"name": "Ola", "role": "rådmann", "email": "ola"}, "email", "«--email»"),
    ({"role": "rådmann", "email": "ny@example.org"}, "name", "«--name» kan ikke være tom"),
    ({"name": "Ola", "role": "rådmann", "email": "ny@example.org", "phone": "abc"}, "phone",
     "telefonnummer"),
    ({"name": "Ola", "role": "rådmann", "email": "ny@example.org", "nickname": "O"},
     "nickname", "ikke et kjent felt"),
    ({"name": "Ola", "role": "rådmann", "email": "ny@example.org", "primary": "kanskje"},
     "primary", "true eller false"),
])
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_written(world, body, field,
                                                                         words):
    api = Api(world)
    before = count(world, ContactPerson), count(world, Event)
    p = problem(api.post("/cases/1836/contacts", json=body), 422, field)
    assert words in p["detail"] and p["exit_code"] == 2 and p["error"] == "InvalidInput"
    assert (count(world, ContactPerson), count(world, Event)) == before


def test_a_duplicate_email_is_a_conflict(world):
    api = Api(world)
    p = problem(api.post("/cases/1836/contacts", json={
        "name": "Ola N.", "role": "rådmann", "email": "OLA@example.org"}), 409, "email")
    assert p["exit_code"] == 1 and "har allerede en kontaktperson" in p["detail"]


def test_the_same_idempotency_key_adds_one_contact_and_answers_the_same(world):
    api = Api(world)
    body = {"name": "Kari Nordmann", "role": "kommunedirektør", "email": "kari@example.org"}
    first = api.post("/cases/1836/contacts", json=body, key="legg-til-kari-1")
    again = api.post("/cases/1836/contacts", json=body, key="legg-til-kari-1")
    assert first.status_code == 201 and again.status_code == 201, again.text
    assert again.json() == first.json()
    assert first.json()["idempotency_key"] == "legg-til-kari-1"
    assert count(world, ContactPerson, ContactPerson.email == "kari@example.org") == 1
    assert count(world, Event, Event.kind == "contact_added") == 3  # two in `world`
    # The key is kept without the input (personal data is not copied into the inbox).
    with db.session_scope(world) as s:
        from sqlmodel import select

        row = s.exec(select(Command).where(Command.idempotency_key == "legg-til-kari-1")).one()
        assert row.payload == {} and "kari@" not in json.dumps(row.result)
    # Another user cannot replay it, nor can it name another action.
    other = Api(world, "per")
    problem(other.post("/cases/1836/contacts", json=body, key="legg-til-kari-1"), 409,
            "idempotency_key")
    kari = _contact_id(world, "kari@example.org")
    problem(api.delete(f"/contacts/{kari}", key="legg-til-kari-1"), 409, "idempotency_key")
    # A refused write frees its key for the corrected request.
    problem(api.post("/cases/1836/contacts", json={**body, "email": "feil"}, key="ny-kontakt-2"),
            422, "email")
    ok = api.post("/cases/1836/contacts", json={**body, "email": "kari2@example.org"},
                  key="ny-kontakt-2")
    assert ok.status_code == 201, ok.text
    problem(api.post("/cases/1836/contacts", json=body, key="kort"), 422, "idempotency_key")


def test_contacts_are_paged(world):
    api = Api(world)
    with db.session_scope(world) as s:
        for i in range(4):
            people.add_contact(session=s, kommunenummer="1836", name=f"Person {i}",
                               role="rådgiver", email=f"p{i}@example.org", phone=None,
                               primary=False, ctx=ctx_for(TODAY))
    first = api.get("/cases/1836/contacts", params={"per_page": 2}).json()
    last = api.get("/cases/1836/contacts", params={"per_page": 2, "page": 3}).json()
    assert (first["total"], len(first["items"]), len(last["items"])) == (5, 2, 1)
    assert first["items"][0]["primary"] and not last["items"][0]["primary"]
    problem(api.get("/cases/1836/contacts", params={"per_page": 101}), 422, "per_page")


def test_a_key_still_being_processed_is_a_conflict_not_a_second_write(world):
    api = Api(world)
    with db.session_scope(world) as s:  # another request with this key has claimed it
        s.add(Command(idempotency_key="kontakt-underveis", kind="api:add_contact",
                      actor="kari", payload={}, status="pending"))
        s.commit()
    p = problem(api.post("/cases/1836/contacts", key="kontakt-underveis", json={
        "name": "Kari Nordmann", "role": "rådmann", "email": "kari@example.org"}),
        409, "idempotency_key")
    assert "behandles allerede" in p["detail"]
    assert count(world, ContactPerson, ContactPerson.email == "kari@example.org") == 0
