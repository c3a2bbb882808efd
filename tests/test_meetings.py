"""Meeting plans and the political deadlines they set, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt.domain.errors import DomainError, InvalidInput
from avtaleflyt.services import meetings, queries
from avtaleflyt.models import Event, Meeting, Reminder

from .conftest import ctx_for
from .reminder_support import add_meeting, open_to_political, record, tasks_by_key

KNR = "1836"
DAY = date(2027, 1, 6)


def test_political_deadlines_follow_the_meeting_plan(session):
    open_to_political(session, KNR, DAY)
    t = tasks_by_key(session, KNR)
    assert t["political.council"].due_on is None and t["political.saksframlegg"].due_on is None
    detail = queries.case_detail(session, KNR, DAY)
    assert any("møteplan for kommunestyret" in w for w in detail["waiting_for"])
    notices = session.exec(select(Reminder).where(Reminder.kind == "no_plan")).all()
    assert {n.recipient for n in notices} == {"coordinator:18"} and len(notices) == 2

    add_meeting(session, KNR, "kommunestyre", date(2027, 3, 18), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2027, 6, 17), DAY)
    add_meeting(session, None, "county", date(2027, 4, 20), DAY)
    t = tasks_by_key(session, KNR)
    assert t["political.saksframlegg"].due_on == date(2027, 2, 25)
    assert t["political.council"].due_on == date(2027, 3, 18)
    assert t["political.county"].due_on == date(2027, 4, 20)
    assert not any("møteplan" in w for w in queries.case_detail(session, KNR, DAY)["waiting_for"])

    # Postponed at the March meeting: the council decision moves to June.
    from avtaleflyt.services import cases

    cases.complete_task(session=session, task_id=t["political.saksframlegg"].id,
                        on=date(2027, 2, 24), ctx=ctx_for(date(2027, 2, 24)))
    record(session, KNR, "council-decision", date(2027, 3, 18), outcome="postponed")
    assert tasks_by_key(session, KNR)["political.council"].due_on == date(2027, 6, 17)
    kinds = [e.kind for e in session.exec(select(Event)).all()]
    assert "meeting_moved" in kinds and "meeting_planned" in kinds


def test_missed_delivery_moves_the_case_to_the_next_meeting(session):
    from avtaleflyt.services.deadlines import schedule_political_cases

    add_meeting(session, KNR, "kommunestyre", date(2027, 3, 18), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2027, 6, 17), DAY)
    open_to_political(session, KNR, DAY)
    assert schedule_political_cases(session=session, ctx=ctx_for(date(2027, 2, 25))) == 0
    assert schedule_political_cases(session=session, ctx=ctx_for(date(2027, 2, 26))) == 2
    assert schedule_political_cases(session=session, ctx=ctx_for(date(2027, 2, 26))) == 0
    t = tasks_by_key(session, KNR)
    assert (t["political.saksframlegg"].due_on, t["political.council"].due_on) == \
        (date(2027, 5, 27), date(2027, 6, 17))
    moved = session.exec(select(Reminder).where(Reminder.kind == "moved")).all()
    assert [(m.recipient, m.due_on) for m in moved] == [("coordinator:18", date(2027, 6, 17))]


def test_meeting_add_refuses_bad_input_and_changes_nothing(session):
    ctx = ctx_for(DAY)
    for kw, field in (({"kommunenummer": KNR, "body": "bystyremøte"}, "body"),
                      ({"kommunenummer": None, "body": "kommunestyre"}, "kommunenummer"),
                      ({"kommunenummer": "9999", "body": "kommunestyre"}, "kommunenummer"),
                      # the county's body belongs to no municipality: a KNR with it is a slip
                      ({"kommunenummer": "1840", "body": "county"}, "kommunenummer")):
        with pytest.raises(DomainError) as e:
            meetings.add_meeting(session=session, on=date(2027, 3, 18), title=None, ctx=ctx,
                                 **kw)
        assert getattr(e.value, "field", None) == field
    with pytest.raises(InvalidInput) as e:
        meetings.add_meeting(session=session, kommunenummer=KNR, body="kommunestyre",
                             on=date(2026, 12, 1), title=None, ctx=ctx)
    assert e.value.field == "date"
    assert session.exec(select(Meeting)).all() == []
    add_meeting(session, KNR, "kommunestyre", date(2027, 3, 18), DAY)
    again = add_meeting(session, KNR, "kommunestyre", date(2027, 3, 18), DAY)
    assert again.added == 0 and len(session.exec(select(Meeting)).all()) == 1


def test_import_is_all_or_nothing(session, tmp_path):
    good = tmp_path / "plan.csv"
    good.write_text("kommunenummer;organ;dato;tittel\n1836;kommunestyre;18.03.2027;Møte 1\n"
                    "1836;formannskap;04.03.2027;\n;fylkesting;20.04.2027;Fylkestinget\n",
                    encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("kommunenummer;organ;dato\n1836;kommunestyre;18.03.2027\n"
                   "1836;kommunestyre;31.02.2027\n", encoding="utf-8")
    ctx = ctx_for(DAY)
    with pytest.raises(InvalidInput):
        meetings.import_meetings(session=session, path=bad, kommunenummer=None, body=None,
                                 ctx=ctx)
    assert session.exec(select(Meeting)).all() == []
    out = meetings.import_meetings(session=session, path=good, kommunenummer=None, body=None,
                                   ctx=ctx)
    assert (out.added, out.skipped) == (3, 0)
    again = meetings.import_meetings(session=session, path=good, kommunenummer=None,
                                     body=None, ctx=ctx)
    assert (again.added, again.skipped) == (0, 3)
    rows = meetings.list_meetings(session, KNR)
    assert [(r["date"], r["body"]) for r in rows] == [
        ("2027-03-04", "formannskap"), ("2027-03-18", "kommunestyre"), ("2027-04-20", "county")]


def test_import_ics_sets_the_deadlines_of_a_waiting_case(session, tmp_path):
    open_to_political(session, KNR, DAY)
    feed = tmp_path / "rodoy.ics"
    feed.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//NO\r\n"
        b"BEGIN:VEVENT\r\nUID:1\r\nDTSTART;TZID=Europe/Oslo:20270318T100000\r\n"
        b"SUMMARY:Kommunestyrem\xc3\xb8te\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:2\r\nDTSTART:20270419T223000Z\r\n"  # 20 April in Oslo
        b"SUMMARY:Fylkestinget\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    out = meetings.import_meetings(session=session, path=feed, kommunenummer=KNR, body=None,
                                   ctx=ctx_for(DAY))
    assert (out.added, out.rescheduled) == (2, 3)
    t = tasks_by_key(session, KNR)
    assert (t["political.saksframlegg"].due_on, t["political.council"].due_on,
            t["political.county"].due_on) == (date(2027, 2, 25), date(2027, 3, 18),
                                              date(2027, 4, 20))


def test_county_meetings_belong_to_a_county(session):
    """With cases in Nordland and Troms, a county meeting must name its county; each case's
    county decision follows its own county's deciding body, never the other's."""
    troms = "5501"
    open_to_political(session, KNR, DAY)
    open_to_political(session, troms, DAY)
    with pytest.raises(InvalidInput) as refused:
        meetings.add_meeting(session=session, kommunenummer=None, body="county",
                             on=date(2027, 4, 20), title=None, ctx=ctx_for(DAY))
    assert "--county" in refused.value.message and "flere fylker" in refused.value.message
    assert session.exec(select(Meeting)).all() == []
    with pytest.raises(InvalidInput) as unknown:
        meetings.add_meeting(session=session, kommunenummer=None, body="county",
                             on=date(2027, 4, 20), title=None, ctx=ctx_for(DAY), county="77")
    assert "«77»" in unknown.value.message

    out = meetings.add_meeting(session=session, kommunenummer=None, body="county",
                               on=date(2027, 4, 20), title=None, ctx=ctx_for(DAY), county="55")
    assert "Troms" in out.message
    assert tasks_by_key(session, troms)["political.county"].due_on == date(2027, 4, 20)
    assert tasks_by_key(session, KNR)["political.county"].due_on is None
    meetings.add_meeting(session=session, kommunenummer=None, body="county",
                         on=date(2027, 5, 6), title=None, ctx=ctx_for(DAY), county="18")
    assert tasks_by_key(session, KNR)["political.county"].due_on == date(2027, 5, 6)
    assert tasks_by_key(session, troms)["political.county"].due_on == date(2027, 4, 20)
    # Each municipality's listing shows its own county's deciding body only.
    assert [r["date"] for r in meetings.list_meetings(session, KNR)] == ["2027-05-06"]
    assert [r["date"] for r in meetings.list_meetings(session, troms)] == ["2027-04-20"]


def test_a_meeting_plan_names_the_county_of_its_county_rows(session, tmp_path):
    open_to_political(session, KNR, DAY)
    open_to_political(session, "5501", DAY)
    plan = tmp_path / "plan.csv"
    plan.write_text("kommunenummer;organ;dato\n55;fylkesting;20.04.2027\n"
                    "1836;fylkesting;06.05.2027\n", encoding="utf-8")
    out = meetings.import_meetings(session=session, path=plan, kommunenummer=None, body=None,
                                   ctx=ctx_for(DAY))
    assert out.added == 2
    assert tasks_by_key(session, "5501")["political.county"].due_on == date(2027, 4, 20)
    assert tasks_by_key(session, KNR)["political.county"].due_on == date(2027, 5, 6)
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("kommunenummer;organ;dato\n;fylkesting;10.06.2027\n", encoding="utf-8")
    with pytest.raises(InvalidInput):
        meetings.import_meetings(session=session, path=unnamed, kommunenummer=None, body=None,
                                 ctx=ctx_for(DAY))
    assert len(session.exec(select(Meeting)).all()) == 2


def test_meeting_add_refuses_an_unknown_county_before_anything_runs(db_url):
    from typer.testing import CliRunner

    from avtaleflyt.cli.main import app

    r = CliRunner().invoke(app, ["meeting", "add", "county", "--county", "77", "--body",
                                 "county", "--date", "2099-04-20"])
    assert r.exit_code == 2 and "«77»" in r.output
    assert json.loads(CliRunner().invoke(app, ["meeting", "list", "--json"]).stdout) == []
