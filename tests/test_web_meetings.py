"""The meeting plan from the dashboard (/moter): the county's upcoming meetings, adding,
moving and cancelling one, and uploading a plan (CSV or iCalendar), through FastAPI's
TestClient on real SQLite and PostgreSQL. Refusals are answered before any flow starts and
write nothing; the changes themselves run the real flows (marked `prefect`)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.models import Command, Event, Meeting
from avtaleflyt.services import meetings

from .conftest import ctx_for
from .web_support import csrf_of, logged_in, to_political

TODAY = date(2026, 3, 20)

PLAN_CSV = """kommunenummer;organ;dato;tittel
1836;formannskap;09.06.2026;Formannskapet i Rødøy
1836;kommunestyre;18.06.2026;Kommunestyret i Rødøy
18;fylkesting;16.06.2026;Fylkestinget i Nordland
"""

PLAN_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Meløy kommune//Møteplan//NO
BEGIN:VEVENT
UID:ks-1@meloy.example
DTSTAMP:20260301T080000Z
DTSTART;TZID=Europe/Oslo:20260611T100000
SUMMARY:Kommunestyret
END:VEVENT
BEGIN:VEVENT
UID:fsk-1@meloy.example
DTSTAMP:20260301T080000Z
DTSTART;TZID=Europe/Oslo:20260602T100000
SUMMARY:Formannskapsmøte
END:VEVENT
END:VCALENDAR
"""


def _meetings(url: str) -> list[tuple[str | None, str, str]]:
    """(kommunenummer or county code, body, date) of every meeting, by date."""
    with db.session_scope(url) as s:
        return [(m["kommunenummer"] or m["county_code"], m["body"], m["date"])
                for m in meetings.list_meetings(s)]


def _add(url: str, knr: str | None, body: str, on: date, county: str | None = None) -> int:
    with db.session_scope(url) as s:
        meetings.add_meeting(session=s, kommunenummer=knr, body=body, on=on, title=None,
                             ctx=ctx_for(TODAY), county=county)
        return s.exec(select(Meeting.id).where(Meeting.date == on,
                                               Meeting.body == body)).first()


@pytest.fixture
def plan(db_url, monkeypatch):
    """Meetings of Rødøy, Meløy and Nordland's fylkesting, and one of Tromsø (Troms)."""
    monkeypatch.setenv("AVTALEFLYT_TODAY", TODAY.isoformat())
    ids = {"rodoy": _add(db_url, "1836", "kommunestyre", date(2026, 6, 18)),
           "meloy": _add(db_url, "1837", "formannskap", date(2026, 6, 9)),
           "fylkesting": _add(db_url, None, "county", date(2026, 6, 16), county="18"),
           "tromso": _add(db_url, "5501", "kommunestyre", date(2026, 6, 25))}
    return ids


def _upload(c, token, name: str, data: bytes, **fields):
    return c.post("/moter/last-opp", data={"csrf_token": token, **fields},
                  files={"plan": (name, data, "text/csv")})


def test_the_plan_needs_a_login(db_url, plan):
    from .web_support import client

    c = client()
    r = c.get("/moter?kommune=1836")
    assert r.status_code == 303 and r.headers["location"].startswith("/logg-inn?neste=")
    assert c.post("/moter", data={"kommune": "1836", "organ": "kommunestyre",
                                  "date": "01.09.2026"}).status_code == 401
    assert _upload(c, "", "plan.csv", PLAN_CSV.encode()).status_code == 401
    assert c.post(f"/moter/{plan['rodoy']}/avlys", data={"confirm": "ja"}).status_code == 401


def test_the_page_lists_the_countys_meetings_by_municipality(db_url, plan):
    c = logged_in(db_url)
    page = c.get("/moter")
    assert page.status_code == 200
    text = page.text
    assert '<a href="/moter" aria-current="page">Møteplan</a>' in text
    assert "<h3>1836 Rødøy</h3>" in text and "<h3>1837 Meløy</h3>" in text
    assert "<h3>Fylkeskommunen (Nordland)</h3>" in text
    assert "18. juni 2026: Kommunestyret" in text and "9. juni 2026: Formannskapet" in text
    assert "Tromsø" not in text and f"meeting-{plan['tromso']}" not in text
    # Rødøy's own meetings and the county's deciding body, not Meløy's.
    only = c.get("/moter?kommune=1836").text
    assert "<h1>Møteplan – Rødøy</h1>" in only
    assert f'id="meeting-{plan["rodoy"]}"' in only and f'id="meeting-{plan["fylkesting"]}"' in only
    assert f'id="meeting-{plan["meloy"]}"' not in only
    assert c.get("/moter?kommune=5501").status_code == 404  # Troms: as if it did not exist
    assert c.get("/moter?kommune=9999").status_code == 404
    assert c.get("/moter?kommune=abc").status_code == 404
    # Without a filter a municipality shows its next six meetings and a link to all.
    for month in range(7, 14):
        _add(db_url, "1837", "formannskap", date(2026 + month // 13, month % 13 or 1, 8))
    text = c.get("/moter").text
    meloy = text.split("<h3>1837 Meløy</h3>")[1].split("<h3>")[0]
    assert meloy.count("<li id=") == 6 and "8. november 2026" in meloy
    assert "8. desember 2026" not in meloy
    assert '<a href="/moter?kommune=1837">Alle 8 kommende møter for 1837 Meløy</a>' in meloy
    assert c.get("/moter?kommune=1837").text.count("<li id=") == 8 + 1  # + the fylkesting
    # A national user sees every county, and may name any county's deciding body.
    national = logged_in(db_url, "nora", county=None).get("/moter").text
    assert "<h3>5501 Tromsø</h3>" in national and "<h3>1836 Rødøy</h3>" in national
    assert '<option value="fylke:55">' in national and '<option value="fylke:18">' in national
    assert '<option value="fylke:55">' not in text
    # The case page links to its municipality's plan.
    to_political(db_url, "1836", date(2026, 3, 2))
    assert 'href="/moter?kommune=1836"' in c.get("/sak/1836").text


def test_refusals_name_the_field_and_write_nothing(db_url, plan):
    c = logged_in(db_url)
    token = csrf_of(c.get("/moter").text)
    before = _meetings(db_url)

    r = c.post("/moter", data={"csrf_token": token, "kommune": "1836", "organ": "kommunestyre",
                               "date": "01.03.2026"})
    assert r.status_code == 422
    assert 'id="meeting-add-date" name="date" type="text"\n       value="01.03.2026" required ' \
           'aria-invalid="true"' in r.text
    assert "er før i dag (20. mars 2026)" in r.text
    r = c.post("/moter", data={"csrf_token": token, "kommune": "1836", "organ": "county",
                               "date": "01.09.2026"})
    assert r.status_code == 422 and "fylkeskommunens organ hører til fylket" in r.text
    assert 'id="meeting-add-kommune" name="kommune" required aria-invalid="true"' in r.text
    r = c.post("/moter", data={"csrf_token": token, "kommune": "1836", "organ": "",
                               "date": "01.09.2026"})
    assert r.status_code == 422 and "«Organ» mangler" in r.text
    r = c.post("/moter", data={"csrf_token": token, "kommune": "1836",
                               "organ": "kommunestyre", "date": "31.09.2026"})
    assert r.status_code == 422 and "finnes ikke (september 2026 har 30 dager)" in r.text
    # Another county's municipality, county and meetings: not found.
    assert c.post("/moter", data={"csrf_token": token, "kommune": "5501",
                                  "organ": "kommunestyre", "date": "01.09.2026"}
                  ).status_code == 404
    assert c.post("/moter", data={"csrf_token": token, "kommune": "fylke:55",
                                  "organ": "county", "date": "01.09.2026"}).status_code == 404
    tromso = plan["tromso"]
    assert c.post(f"/moter/{tromso}/flytt", data={"csrf_token": token, "date": "01.09.2026"}
                  ).status_code == 404
    assert c.post(f"/moter/{tromso}/avlys", data={"csrf_token": token, "confirm": "ja"}
                  ).status_code == 404
    assert c.post("/moter/99999999/avlys", data={"csrf_token": token, "confirm": "ja"}
                  ).status_code == 404
    rodoy = plan["rodoy"]
    r = c.post(f"/moter/{rodoy}/flytt", data={"csrf_token": token, "date": "neste uke"})
    assert r.status_code == 422 and "<details open><summary>Flytt eller avlys" in r.text
    assert f'id="meeting-{rodoy}-date" name="date" size="10" value="neste uke" ' \
           'aria-invalid="true"' in r.text
    r = c.post(f"/moter/{rodoy}/avlys", data={"csrf_token": token})
    assert r.status_code == 422 and "bekrefte at møtet er avlyst" in r.text
    assert c.post("/moter", data={"csrf_token": "feil", "kommune": "1836",
                                  "organ": "kommunestyre", "date": "01.09.2026"}
                  ).status_code == 403
    assert _meetings(db_url) == before


def test_a_malformed_or_foreign_plan_is_refused_whole(db_url, plan):
    c = logged_in(db_url)
    token = csrf_of(c.get("/moter").text)
    before = _meetings(db_url)
    with db.session_scope(db_url) as s:
        commands = len(s.exec(select(Command)).all())

    bad = ("kommunenummer;organ;dato\n1836;kommunestyre;18.09.2026\n1836;formannskap;\n"
           "1837;bystyre;31.02.2026\n").encode()
    r = _upload(c, token, "moteplan.csv", bad)
    assert r.status_code == 422
    assert "Møteplanen moteplan.csv ble ikke importert fordi den har 2 feil. Ingenting ble " \
           "lagret." in r.text
    assert "<li>Linje 3, «dato»: feltet er tomt." in r.text
    assert "<li>Linje 4, «dato»: «31.02.2026» finnes ikke (februar 2026 har 28 dager)" in r.text
    assert 'id="plan-upload-file" name="plan" type="file"' in r.text
    assert 'aria-invalid="true" aria-describedby="err-file"' in r.text

    # A row for another county's municipality (Tromsø) is refused like an unknown one.
    foreign = (b"kommunenummer;organ;dato\n1836;kommunestyre;18.09.2026\n"
               b"5501;kommunestyre;17.09.2026\n")
    r = _upload(c, token, "plan.csv", foreign)
    assert r.status_code == 422
    assert "linje 3: fant ingen kommune med kommunenummer 5501" in r.text

    r = _upload(c, token, "plan.csv", "dato;sted\n18.09.2026;Rødøy\n".encode())
    assert r.status_code == 422 and "mangler kolonnen «kommunenummer» og «organ»" in r.text
    r = _upload(c, token, "plan.ics", b"BEGIN:VCALENDAR\nthis is not a calendar")
    assert r.status_code == 422 and "ikke en gyldig iCalendar-fil" in r.text
    r = _upload(c, token, "plan.csv", b"\x00\x01\x02binary")
    assert r.status_code == 422 and "er ikke en tekstfil" in r.text
    r = _upload(c, token, "plan.csv", b"")
    assert r.status_code == 422 and "«Fil» mangler" in r.text

    # Over the limit: refused with a clear message, nothing read into the database.
    big = b"kommunenummer;organ;dato\n" + b"1836;kommunestyre;18.09.2026\n" * 40000
    assert len(big) > 1024 * 1024
    r = _upload(c, token, "stor.csv", big)
    assert r.status_code == 413 and "Filen er for stor" in r.text and "høyst 1 MB" in r.text

    r = _upload(c, "feil", "plan.csv", PLAN_CSV.encode())
    assert r.status_code == 403
    # Not a file upload at all: no token read, so refused as a forged form.
    assert c.post("/moter/last-opp", data={"csrf_token": token}).status_code == 403
    assert _meetings(db_url) == before
    with db.session_scope(db_url) as s:
        assert len(s.exec(select(Command)).all()) == commands  # no command was even stored


def _flash(c, path: str = "/moter") -> str:
    import re

    return " ".join(re.findall(r'<p class="flash" role="status">([^<]*)</p>', c.get(path).text))


@pytest.mark.prefect
def test_add_move_and_cancel_run_the_flows_and_say_the_next_deadline(db_url, plan,
                                                                      prefect_server):
    to_political(db_url, "1836", date(2026, 3, 2))  # Rødøy waits for its council
    c = logged_in(db_url)
    token = csrf_of(c.get("/moter?kommune=1836").text)

    r = c.post("/moter", data={"csrf_token": token, "kommune": "1836",
                               "organ": "formannskap", "date": "04.06.2026",
                               "title": "Formannskapet i Rødøy", "filter": "1836"})
    assert r.status_code == 303 and r.headers["location"] == "/moter?kommune=1836"
    flash = _flash(c, "/moter?kommune=1836")
    assert "Møte lagt inn: Formannskapet i Rødøy 4. juni 2026." in flash
    # The saksframlegg counts back from the formannskap, the first body in the saksgang.
    assert "Neste frist:" in flash and "før formannskapet 4. juni 2026" in flash
    assert ("1836", "formannskap", "2026-06-04") in _meetings(db_url)

    with db.session_scope(db_url) as s:
        fsk = s.exec(select(Meeting.id).where(Meeting.body == "formannskap",
                                              Meeting.date == date(2026, 6, 4))).one()
    r = c.post(f"/moter/{fsk}/flytt", data={"csrf_token": token, "date": "11.06.2026",
                                            "filter": "1836"})
    assert r.status_code == 303
    flash = _flash(c, "/moter?kommune=1836")
    assert "Møtet i formannskapet 4. juni ble flyttet til 11. juni" in flash
    assert "før formannskapet 11. juni 2026" in flash
    # A date the service refuses inside the flow comes back on the row's form.
    r = c.post(f"/moter/{fsk}/flytt", data={"csrf_token": token, "date": "02.03.2026",
                                            "filter": "1836"})
    assert r.status_code == 422 and "er før i dag" in r.text
    assert f'id="meeting-{fsk}-date" name="date" size="10" value="02.03.2026" ' \
           'aria-invalid="true"' in r.text

    r = c.post(f"/moter/{fsk}/avlys", data={"csrf_token": token, "confirm": "ja"})
    assert r.status_code == 303 and r.headers["location"] == "/moter"
    assert "Møtet i formannskapet 11. juni ble avlyst." in _flash(c)
    assert ("1836", "formannskap", "2026-06-11") not in _meetings(db_url)
    with db.session_scope(db_url) as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.recorded_by == "kari"))]
    assert "meeting_rescheduled" in kinds and "meeting_cancelled" in kinds


@pytest.mark.prefect
def test_upload_csv_and_ics_plans(db_url, plan, prefect_server):
    to_political(db_url, "1836", date(2026, 3, 2))
    c = logged_in(db_url)
    token = csrf_of(c.get("/moter").text)

    r = _upload(c, token, "moteplan.csv", PLAN_CSV.encode("cp1252"))  # as Excel saves it
    assert r.status_code == 303, r.text
    flash = _flash(c)
    # Rødøy's council and the fylkesting were in the plan already (the fixture).
    assert ("Importerte 1 møte fra moteplan.csv (2 fantes fra før). 1 frist i politisk "
            "behandling ble satt eller flyttet.") in flash
    found = _meetings(db_url)
    assert ("1836", "formannskap", "2026-06-09") in found
    assert ("1836", "kommunestyre", "2026-06-18") in found
    assert found.count(("18", "county", "2026-06-16")) == 1

    # The same file again adds nothing.
    r = _upload(c, token, "moteplan.csv", PLAN_CSV.encode())
    assert r.status_code == 303
    assert "Importerte 0 møter fra moteplan.csv (3 fantes fra før)." in _flash(c)

    # An iCalendar file without X-KOMMUNENUMMER: the municipality is chosen on the form.
    r = c.post("/moter/last-opp", data={"csrf_token": token, "kommune": "1837"},
               files={"plan": ("meloy.ics", PLAN_ICS.encode(), "text/calendar")})
    assert r.status_code == 303, r.text
    assert "Importerte 2 møter fra meloy.ics." in _flash(c)
    found = _meetings(db_url)
    assert ("1837", "kommunestyre", "2026-06-11") in found
    assert ("1837", "formannskap", "2026-06-02") in found
    with db.session_scope(db_url) as s:
        cmd = s.exec(select(Command).where(Command.kind == "import_meetings")
                     .order_by(Command.id.desc())).first()
    # The plan is in our command row; the flow run got only the command's id.
    assert cmd.actor == "kari" and cmd.payload["filename"] == "meloy.ics"
    assert "Formannskapsmøte" in cmd.payload["plan"]
