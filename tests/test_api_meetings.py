"""The JSON API's meetings (/api/v1/meetings…): list (paged, the user's county), add, move,
cancel and import a meeting plan. Refusals — bad input, another county's meeting or
municipality, a bad or oversized file — come back as problems before any flow starts, with
nothing written (not even to the command inbox). The writes themselves run as Prefect flow
runs, recorded as the token's user, in one test that starts Prefect once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from avtaleflyt import db
from avtaleflyt.cli.main import app
from avtaleflyt.models import Command, Event, Meeting
from avtaleflyt.services import meetings

from .api_rest_support import Api, count, problem
from .conftest import ctx_for
from .web_support import client, to_political

TODAY = date(2027, 3, 1)
PLAN = Path(__file__).parent.parent / "examples" / "moteplan.csv"
runner = CliRunner()


@pytest.fixture
def world(sqlite_url, monkeypatch):
    """Rødøy in political approval; one kommunestyre meeting each for Rødøy and Oslo."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    to_political(sqlite_url, "1836", TODAY)
    with db.session_scope(sqlite_url) as s:
        for knr, on in (("1836", date(2027, 4, 27)), ("0301", date(2027, 4, 29))):
            meetings.add_meeting(session=s, kommunenummer=knr, body="kommunestyre", on=on,
                                 title=None, ctx=ctx_for(TODAY))
    return sqlite_url


def _meeting_id(url: str, on: date) -> int:
    with db.session_scope(url) as s:
        return s.exec(select(Meeting.id).where(Meeting.date == on)).one()


def _untouched(url: str) -> tuple[int, int, int]:
    return count(url, Meeting), count(url, Event), count(url, Command)


def test_every_meeting_route_needs_a_token(world):
    c = client()
    for method, path in (("GET", "/meetings"), ("POST", "/meetings"),
                         ("POST", "/meetings/1/move"), ("POST", "/meetings/1/cancel"),
                         ("POST", "/meetings/import")):
        for headers in ({}, {"Authorization": "Bearer avt_feil-token"}):
            problem(c.request(method, "/api/v1" + path, json={}, headers=headers), 401)


def test_the_list_is_the_users_county_paged_as_the_cli_shows_it(world):
    api = Api(world)
    page = api.get("/meetings").json()
    cli = json.loads(runner.invoke(app, ["meeting", "list", "--county", "18", "--json"]).output)
    assert page == {"items": cli, "total": 1, "page": 1, "per_page": 50}
    assert page["items"][0]["municipality"] == "Rødøy"
    national = Api(world, "nasjonal", county=None)
    everything = national.get("/meetings", params={"per_page": 1, "page": 2}).json()
    assert everything["total"] == 2 and everything["items"][0]["municipality"] == "Oslo"
    # Meetings held before `since` are left out, as `meeting list` leaves out held ones.
    assert api.get("/meetings", params={"since": "28.04.2027"}).json()["total"] == 0
    assert api.get("/meetings", params={"kommunenummer": "1836"}).json()["total"] == 1
    problem(api.get("/meetings", params={"kommunenummer": "0301"}), 404, "kommunenummer")
    problem(api.get("/meetings", params={"county": "03"}), 404, "county")
    problem(api.get("/meetings", params={"since": "31.02.2027"}), 422, "since")


def test_another_countys_meetings_are_not_found_before_a_flow_starts(world):
    api = Api(world)
    oslo = _meeting_id(world, date(2027, 4, 29))
    before = _untouched(world)
    moved = problem(api.post(f"/meetings/{oslo}/move", json={"date": "2027-05-06"}), 404, "id")
    unknown = problem(api.post("/meetings/99999/cancel", json={}), 404, "id")
    assert moved["detail"] == unknown["detail"].replace("99999", str(oslo))
    problem(api.post(f"/meetings/{oslo}/cancel"), 404, "id")
    problem(api.post("/meetings/99999999999/cancel"), 404, "id")
    problem(api.post("/meetings", json={"kommunenummer": "0301", "body": "kommunestyre",
                                        "date": "2027-06-17"}), 404, "kommunenummer")
    problem(api.post("/meetings", json={"kommunenummer": "county", "body": "county",
                                        "county": "03", "date": "2027-06-17"}), 404, "county")
    problem(api.post("/meetings", json={"kommunenummer": "county", "body": "county",
                                        "county": "77", "date": "2027-06-17"}), 422, "county")
    # A plan naming another county's municipality is refused as if it did not exist.
    oslo_plan = ("kommunenummer;organ;dato\n1836;kommunestyre;17.06.2027\n"
                 "0301;kommunestyre;17.06.2027\n")
    p = problem(api.post("/meetings/import",
                         files={"file": ("plan.csv", oslo_plan.encode(), "text/csv")}), 422)
    assert "- linje 3: fant ingen kommune med kommunenummer 0301." in p["detail"], p
    assert "linje 2" not in p["detail"]
    assert _untouched(world) == before


def test_a_national_user_names_the_county_when_several_have_cases(world):
    to_political(world, "0301", TODAY)  # now Oslo and Nordland have cases
    before = _untouched(world)
    national = Api(world, "nasjonal", county=None)
    p = problem(national.post("/meetings", json={"body": "county", "date": "2027-06-17"}),
                422, "county")
    assert "«--county NR»" in p["detail"]
    assert _untouched(world) == before


@pytest.mark.parametrize("body, field, words", [
    ({"kommunenummer": "1836", "body": "kommunestyre", "date": "31.02.2027"}, "date",
     "«--date»"),
    ({"kommunenummer": "1836", "body": "kommunestyre", "date": "2027-02-01"}, "date",
     "før i dag"),
    ({"kommunenummer": "1836", "body": "bystyre", "date": "2027-06-17"}, "body", "organ"),
    ({"kommunenummer": "county", "body": "kommunestyre", "date": "2027-06-17"},
     "kommunenummer", "«KNR» mangler"),
    ({"kommunenummer": "1836", "body": "kommunestyre"}, "date", "«--date»"),
    ({"kommunenummer": "1836", "body": "kommunestyre", "date": "2027-06-17", "room": "A"},
     "room", "ikke et kjent felt"),
])
def test_bad_meeting_input_is_a_problem_naming_the_field(world, body, field, words):
    api = Api(world)
    before = _untouched(world)
    p = problem(api.post("/meetings", json=body), 422, field)
    assert words in p["detail"] and p["exit_code"] == 2
    assert _untouched(world) == before


def test_a_bad_or_oversized_plan_is_refused_whole_before_a_flow_starts(world):
    api = Api(world)
    before = _untouched(world)
    bad = "kommunenummer;organ;dato\n1836;kommunestyre;17.06.2027\n1836;kommunestyre;30.02.2027\n"
    p = problem(api.post("/meetings/import",
                         files={"file": ("plan.csv", bad.encode(), "text/csv")}), 422, "file")
    assert "Linje 3" in p["detail"] and "ikke importert" in p["detail"]
    assert p["error"] == "MeetingPlanInvalid"
    p = problem(api.post("/meetings/import",
                         files={"file": ("plan.csv", b"\x00\x01\x02", "text/csv")}), 422, "file")
    assert "ikke en tekstfil" in p["detail"]
    problem(api.post("/meetings/import", data={"kommunenummer": "1836"}), 422, "file")
    line = b"1836;kommunestyre;17.06.2027\n"
    header = b"kommunenummer;organ;dato\n"
    just_over = header + line * ((1024 * 1024 - len(header)) // len(line) + 1)
    for big in (just_over, header + line * 80_000):  # read and counted; refused unread
        p = problem(api.post("/meetings/import",
                             files={"file": ("plan.csv", big, "text/csv")}), 413, "file")
        assert "1 MB" in p["detail"] and p["exit_code"] == 2
    assert _untouched(world) == before
    assert not (Path(world.removeprefix("sqlite:///")).parent / "data" / "imports").exists() \
        or not any((Path(world.removeprefix("sqlite:///")).parent / "data" / "imports")
                   .iterdir())


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Test//NO
BEGIN:VEVENT
UID:a@example.org
DTSTART;VALUE=DATE:20271104
SUMMARY:Kommunestyremøte
END:VEVENT
END:VCALENDAR
"""


def test_writes_run_as_flows_recorded_as_the_token_user(world, prefect_server):
    api = Api(world)
    # add: the same key twice stores one meeting and answers the same.
    body = {"kommunenummer": "1836", "body": "formannskap", "date": "10.06.2027",
            "title": "Formannskapet"}
    first = api.post("/meetings", json=body, key="mote-rodoy-0610")
    again = api.post("/meetings", json=body, key="mote-rodoy-0610")
    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert first.json()["message"].startswith("Møte lagt inn: Formannskapet i Rødøy 10. juni")
    assert count(world, Meeting, Meeting.date == date(2027, 6, 10)) == 1
    with db.session_scope(world) as s:
        cmd = s.exec(select(Command).where(Command.idempotency_key == "mote-rodoy-0610")).one()
        assert (cmd.kind, cmd.actor, cmd.status) == ("add_meeting", "kari", "done")

    # move: the case's deadlines follow; the history says who moved it.
    council = _meeting_id(world, date(2027, 4, 27))
    r = api.post(f"/meetings/{council}/move", json={"date": "04.05.2027"})
    assert r.status_code == 200, r.text
    assert "flyttet" in r.json()["message"].lower()
    with db.session_scope(world) as s:
        assert s.get(Meeting, council).date == date(2027, 5, 4)
        moved = s.exec(select(Event).where(Event.kind == "meeting_moved")).all()
        assert moved and {e.recorded_by for e in moved} == {"kari"}

    # cancel, and a retry of the same cancel gets the first answer (the meeting is gone).
    r = api.post(f"/meetings/{council}/cancel", json={}, key="avlys-ks-rodoy")
    again = api.post(f"/meetings/{council}/cancel", json={}, key="avlys-ks-rodoy")
    assert r.status_code == again.status_code == 200, again.text
    assert again.json() == r.json()
    assert count(world, Meeting, Meeting.id == council) == 0

    # import: a CSV plan, answered as `meeting import --json` answers (from the file's name).
    r = api.post("/meetings/import", key="moteplan-2027-a",
                 files={"file": ("moteplan.csv", PLAN.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["message"].startswith("Importerte 11 møter fra moteplan.csv")
    assert (out["added"], out["skipped"], out["idempotency_key"]) == (11, 0, "moteplan-2027-a")
    again = api.post("/meetings/import", key="moteplan-2027-a",
                     files={"file": ("moteplan.csv", PLAN.read_bytes(), "text/csv")})
    assert again.json() == out
    # The same plan again, with a new key: nothing new, as the CLI says it.
    cli = runner.invoke(app, ["meeting", "import", str(PLAN), "--json"])
    assert cli.exit_code == 0, cli.output
    second = api.post("/meetings/import",
                      files={"file": ("moteplan.csv", PLAN.read_bytes(), "text/csv")}).json()
    assert {k: v for k, v in second.items() if k != "idempotency_key"} == \
        {k: v for k, v in json.loads(cli.output).items() if k != "idempotency_key"}
    assert second["added"] == 0 and second["skipped"] == 11

    # An iCalendar plan, with the municipality given beside the file.
    r = api.post("/meetings/import", data={"kommunenummer": "1836"},
                 files={"file": ("rodoy.ics", ICS.encode(), "text/calendar")})
    assert r.status_code == 200, r.text
    assert r.json()["message"].startswith("Importerte 1 møte fra rodoy.ics")
    assert count(world, Meeting, Meeting.date == date(2027, 11, 4)) == 1
    # The saksgang, read and set as `meeting saksgang` does.
    assert api.get("/cases/1836/saksgang").json()["own"] is False
    problem(api.post("/cases/1836/saksgang", json={"set": "kommunestyre,formannskap"}), 422,
            "set")
    problem(api.post("/cases/0301/saksgang", json={"set": "kommunestyre"}), 404,
            "kommunenummer")
    r = api.post("/cases/1836/saksgang", json={"set": ["formannskap", "kommunestyre"]})
    assert r.status_code == 200, r.text
    assert r.json()["message"].startswith("Saksgang for Rødøy: formannskapet → kommunestyret.")
    got = api.get("/cases/1836/saksgang").json()
    assert got == json.loads(runner.invoke(app, ["meeting", "saksgang", "1836", "--json"]).output)
    assert got["own"] is True and got["saksgang"] == ["formannskap", "kommunestyre"]

    # The uploads were copies for the flow run only.
    imports = Path(world.removeprefix("sqlite:///")).parent / "data" / "imports"
    assert not imports.exists() or not any(imports.iterdir())


def test_the_routes_are_in_the_openapi_document(world):
    from openapi_spec_validator import validate

    doc = Api(world).get("/openapi.json").json()
    validate(doc)
    paths = set(doc["paths"])
    assert {"/api/v1/cases/{knr}/contacts", "/api/v1/contacts/{contact_id}", "/api/v1/meetings",
            "/api/v1/meetings/{meeting_id}/move", "/api/v1/meetings/{meeting_id}/cancel",
            "/api/v1/meetings/import", "/api/v1/cases/{knr}/documents",
            "/api/v1/cases/{knr}/documents/{kind}/{version}.{fmt}",
            "/api/v1/documents/{name}", "/api/v1/deadlines", "/api/v1/reminders",
            "/api/v1/reports", "/api/v1/reports/experience",
            "/api/v1/cases/{knr}/saksgang"} <= paths, paths
    upload = doc["paths"]["/api/v1/meetings/import"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]
    assert doc["paths"]["/api/v1/meetings"]["post"]["summary"] == \
        "Legg inn et møte (som «meeting add»)"
