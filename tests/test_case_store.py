"""Services against real databases (SQLite and PostgreSQL): load, decide, commit."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from avtaleflyt import db
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.stages import Theme
from avtaleflyt.services import cases, facts, people, queries
from avtaleflyt.services.store import get_case
from avtaleflyt.models import Event, OnboardingCase, Task

from .conftest import ctx_for

KNR = "1836"


def record(session, kind, on, today=None, **options):
    ctx = ctx_for(today or on)
    fact = facts.build_fact(kind, on, options, ctx)
    out = cases.record_fact(session=session, kommunenummer=KNR, fact=fact, ctx=ctx)
    advance(session, today or on)
    return out


def advance(session, today):
    cases.advance(session=session, kommunenummer=KNR, ctx=ctx_for(today))


def done_all_setup(session, on):
    _, case = get_case(session, KNR)
    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             Task.stage == "system_setup")).all():
        cases.complete_task(session=session, task_id=t.id, on=on, ctx=ctx_for(on))


def snapshot_json(session, today):
    return queries.case_detail(session, KNR, today)


def walk_to_running(session):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    record(session, "meeting-held", date(2026, 3, 10))
    record(session, "needs-assessed", date(2026, 3, 12))
    record(session, "intent-confirmed", date(2026, 3, 19))
    record(session, "council-decision", date(2026, 4, 23), outcome="approved", reference="26/14")
    record(session, "county-decision", date(2026, 5, 5), outcome="approved")
    record(session, "terms-set", date(2026, 5, 11), start="2026-09-01", years="3",
           notice_months="6", price="kr 120 000", position_share="20")
    record(session, "signed", date(2026, 5, 20), party="municipality")
    record(session, "signed", date(2026, 5, 22), party="county")
    done_all_setup(session, date(2026, 8, 14))
    advance(session, date(2026, 9, 1))


def test_full_path_to_running_operation(session, db_url):
    walk_to_running(session)
    d = snapshot_json(session, date(2026, 9, 1))
    assert (d["stage"], d["status"]) == ("running_operation", "active")
    entered = [e["details"]["to"] for e in d["history"] if e["kind"] == "stage_entered"]
    assert entered == ["political_approval", "contract_signing", "system_setup",
                       "running_operation"]
    assert d["stage_entered_on"] == "2026-09-01"
    assert d["terms"]["yearly_price"] == 120_000 and d["terms"]["end_date"] == "2029-08-31"
    assert len(d["terms"]["responsibility_split"]) == 12
    assert all(t["done_on"] for t in d["tasks"] if t["stage"] != "running_operation")
    row = next(r for r in queries.status_rows(session, date(2026, 9, 1))
               if r["kommunenummer"] == KNR)
    assert row["stage"] == "running_operation"


def test_refused_commands_change_nothing(session, db_url):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    record(session, "meeting-held", date(2026, 3, 10))
    before = snapshot_json(session, date(2026, 3, 20))
    bad = [
        ("signed", date(2026, 3, 20), {"party": "county"}),            # out of order
        ("needs-assessed", date(2026, 3, 1), {}),                      # before the stage
        ("needs-assessed", date(2026, 4, 1), {}),                      # in the future
        ("meeting-held", date(2026, 3, 11), {}),                       # already recorded
    ]
    for kind, on, options in bad:
        with pytest.raises((Conflict, InvalidInput)):
            record(session, kind, on, today=date(2026, 3, 20), **options)
    with pytest.raises(InvalidInput):
        facts.build_fact("council-decision", date(2026, 3, 20), {"outcome": "maybe"},
                         ctx_for(date(2026, 3, 20)))
    with pytest.raises(NotFound):
        cases.open_case(session=session, kommunenummer="9999", opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
    with pytest.raises(InvalidInput, match="fire siffer"):
        cases.open_case(session=session, kommunenummer="18x6", opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
    with pytest.raises(Conflict, match="åpen sak"):
        cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 3),
                        ctx=ctx_for(date(2026, 3, 3)))
    assert snapshot_json(session, date(2026, 3, 20)) == before


def test_rejection_closes_the_case_and_a_new_one_can_be_opened(session, db_url):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    for kind, on in (("meeting-held", date(2026, 3, 10)), ("needs-assessed", date(2026, 3, 10)),
                     ("intent-confirmed", date(2026, 3, 10))):
        record(session, kind, on)
    record(session, "council-decision", date(2026, 4, 23), outcome="postponed")
    assert snapshot_json(session, date(2026, 4, 23))["status"] == "active"
    record(session, "council-decision", date(2026, 6, 18), outcome="rejected", reference="26/40")
    d = snapshot_json(session, date(2026, 6, 18))
    assert (d["status"], d["closed_on"]) == ("rejected", "2026-06-18")
    with pytest.raises(Conflict, match="avsluttet"):
        record(session, "county-decision", date(2026, 6, 19), outcome="approved")
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2027, 1, 4),
                    ctx=ctx_for(date(2027, 1, 4)))
    assert snapshot_json(session, date(2027, 1, 4))["stage"] == "first_contact"


def test_hold_resume_moves_open_deadlines(session, db_url):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    due_before = {t["key"]: t["due_on"] for t in snapshot_json(session, date(2026, 3, 2))["tasks"]}
    cases.hold(session=session, kommunenummer=KNR, on=date(2026, 3, 5), reason="valg",
               ctx=ctx_for(date(2026, 3, 5)))
    assert queries.status_rows(session, date(2026, 6, 1))[0]["overdue_tasks"] == 0
    cases.resume(session=session, kommunenummer=KNR, on=date(2026, 4, 2),
                 ctx=ctx_for(date(2026, 4, 2)))
    after = {t["key"]: t["due_on"] for t in snapshot_json(session, date(2026, 4, 2))["tasks"]}
    # 28 days on hold: 23 March + 28 = 20 April 2026 (a Monday, a working day).
    assert due_before["first_contact.meeting"] == "2026-03-23"
    assert after["first_contact.meeting"] == "2026-04-20"


def test_two_writers_the_second_gets_a_conflict_and_nothing_is_lost(db_url):
    engine = db.get_engine(db_url)
    with Session(engine) as s:
        cases.open_case(session=s, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
    first, second = Session(engine, expire_on_commit=False), Session(engine, expire_on_commit=False)
    try:
        # Both load the case, as two coordinators' commands would.
        _, a = get_case(first, KNR)
        _, b = get_case(second, KNR)
        assert a.version == b.version
        fact = facts.build_fact("meeting-held", date(2026, 3, 10), {}, ctx_for(date(2026, 3, 10)))
        cases.record_fact(session=first, kommunenummer=KNR, fact=fact, ctx=ctx_for(date(2026, 3, 10)))
        with pytest.raises(Conflict, match="endret av noen andre"):
            cases.hold(session=second, kommunenummer=KNR, on=date(2026, 3, 10), reason=None,
                       ctx=ctx_for(date(2026, 3, 10)))
    finally:
        first.close()
        second.close()
    with Session(engine) as s:
        d = queries.case_detail(s, KNR, date(2026, 3, 10))
        assert d["status"] == "active"  # the hold was not applied ...
        assert [e["kind"] for e in d["history"]] == ["case_opened", "meeting_held"]  # ... nor lost


def test_the_database_refuses_a_second_open_case(db_url):
    engine = db.get_engine(db_url)
    with Session(engine) as s:
        cases.open_case(session=s, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
        muni_id = s.exec(select(OnboardingCase)).first().municipality_id
        s.add(OnboardingCase(municipality_id=muni_id, stage="first_contact", status="on_hold",
                             opened_on=date(2026, 3, 3), stage_entered_on=date(2026, 3, 3)))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()


def test_events_are_append_only_in_the_database(db_url):
    engine = db.get_engine(db_url)
    with Session(engine) as s:
        cases.open_case(session=s, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
    for stmt in ("UPDATE event SET kind = 'forged'", "DELETE FROM event"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as c:
                c.execute(sa.text(stmt))
    with Session(engine) as s:
        assert [e.kind for e in s.exec(select(Event)).all()] == ["case_opened"]


def test_timestamps_come_back_timezone_aware(session, db_url):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    session.expire_all()
    event = session.exec(select(Event)).first()
    assert event.recorded_at.tzinfo is not None and event.recorded_at.utcoffset().total_seconds() == 0


def test_contacts_are_validated_and_one_is_primary(session, db_url):
    ctx = ctx_for(date(2026, 3, 2))
    people.add_contact(session=session, kommunenummer=KNR, name="Kari Nordmann",
                       role="kommunedirektør", email="kari@example.org", phone="+47 900 00 000",
                       primary=False, ctx=ctx)
    people.add_contact(session=session, kommunenummer=KNR, name="Ola Nordmann",
                       role="kultursjef", email="ola@example.org", phone=None, primary=True,
                       ctx=ctx)
    rows = queries.municipality_contacts(session, KNR)
    assert [(r["name"], r["primary"]) for r in rows] == [("Ola Nordmann", True),
                                                          ("Kari Nordmann", False)]
    for bad, field in (({"email": "not-an-address"}, "email"), ({"name": "  "}, "name"),
                       ({"phone": "ring meg"}, "phone")):
        args = dict(name="X Y", role="r", email="x@example.org", phone=None) | bad
        with pytest.raises(InvalidInput) as e:
            people.add_contact(session=session, kommunenummer=KNR, primary=False, ctx=ctx, **args)
        assert e.value.field == field
    assert len(queries.municipality_contacts(session, KNR)) == 2


def test_notes_keep_theme_and_stage(session, db_url):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2),
                    ctx=ctx_for(date(2026, 3, 2)))
    people.add_note(session=session, kommunenummer=KNR, theme=Theme.TECHNICAL_SYSTEMS,
                    text="IT-avdelingen må med fra start <b>&</b>", on=date(2026, 3, 3),
                    ctx=ctx_for(date(2026, 3, 3)))
    notes = snapshot_json(session, date(2026, 3, 3))["notes"]
    assert notes == [{"id": notes[0]["id"], "stage": "first_contact", "theme": "technical_systems",
                      "theme_label": "Systemtekniske løsninger",
                      "text": "IT-avdelingen må med fra start <b>&</b>",
                      "text_id": notes[0]["text_id"], "noted_on": "2026-03-03",
                      "shared": False}]


def test_status_is_set_based(session, db_url):
    """status_rows issues one query however many cases exist."""
    for knr in ("1836", "1837", "1838", "1839"):
        cases.open_case(session=session, kommunenummer=knr, opened_on=date(2026, 3, 2),
                        ctx=ctx_for(date(2026, 3, 2)))
    count = {"n": 0}

    def counter(*_a, **_k):
        count["n"] += 1

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", counter)
    try:
        rows = queries.status_rows(session, date(2026, 4, 1))
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter)
    assert len(rows) == 4 and count["n"] == 1
    assert all(r["overdue_tasks"] == 1 for r in rows)  # the first meeting was due 23 March


def test_a_municipality_task_can_be_given_a_named_contact(session, db_url):
    ctx = ctx_for(date(2026, 3, 2))
    cases.open_case(session=session, kommunenummer=KNR, opened_on=date(2026, 3, 2), ctx=ctx)
    people.add_contact(session=session, kommunenummer=KNR, name="Kari Nordmann", role="rådgiver",
                       email="kari@example.org", phone=None, primary=True, ctx=ctx)
    contact_id = queries.municipality_contacts(session, KNR)[0]["id"]
    tasks = {t["key"]: t["id"] for t in snapshot_json(session, date(2026, 3, 2))["tasks"]}
    people.assign_task(session=session, task_id=tasks["first_contact.intent"],
                       contact_id=contact_id, ctx=ctx)
    assert session.get(Task, tasks["first_contact.intent"]).contact_id == contact_id
    with pytest.raises(InvalidInput, match="fylkets ansvar"):  # a county task
        people.assign_task(session=session, task_id=tasks["first_contact.meeting"],
                           contact_id=contact_id, ctx=ctx)
    with pytest.raises(InvalidInput, match="ingen kontaktperson med id 999"):
        people.assign_task(session=session, task_id=tasks["first_contact.intent"],
                           contact_id=999, ctx=ctx)
    history = [e["kind"] for e in snapshot_json(session, date(2026, 3, 2))["history"]]
    assert history.count("task_assigned") == 1


def _stage_run_changes(session, today) -> tuple[bool, bool]:
    """(`stage_settled` before, whether the stage flow's work then changed anything): the
    onboarding loop and the stage's drafts, as the stage flows run them."""
    from avtaleflyt.models import Document
    from avtaleflyt.services import document_store

    def seen():
        _, case = get_case(session, KNR)
        return (case.stage, case.status,
                len(session.exec(select(Event).where(Event.case_id == case.id)).all()),
                len(session.exec(select(Task).where(Task.case_id == case.id)).all()),
                len(session.exec(select(Document).where(Document.case_id == case.id)).all()))

    settled = cases.stage_settled(session=session, kommunenummer=KNR, ctx=ctx_for(today))
    before = seen()
    advance(session, today)
    document_store.ensure_stage_documents(session=session, kommunenummer=KNR,
                                          ctx=ctx_for(today))
    session.commit()
    return settled, seen() != before


def test_stage_settled_says_whether_a_stage_run_would_change_anything(session, db_url):
    """`task done` skips the stage flow run when the stage is settled: that must be exactly
    when running it would change nothing (no gate, no task, no draft, no renewal or end)."""
    day = date(2026, 3, 2)
    cases.open_case(session=session, kommunenummer=KNR, opened_on=day, ctx=ctx_for(day))
    assert _stage_run_changes(session, day) == (True, False)
    for kind in ("meeting-held", "needs-assessed"):
        cases.record_fact(session=session, kommunenummer=KNR, ctx=ctx_for(day),
                          fact=facts.build_fact(kind, day, {}, ctx_for(day)))
        assert _stage_run_changes(session, day) == (True, False)  # the gate is still shut
    cases.record_fact(session=session, kommunenummer=KNR, ctx=ctx_for(day),
                      fact=facts.build_fact("intent-confirmed", day, {}, ctx_for(day)))
    assert _stage_run_changes(session, day) == (False, True)  # the gate opens: a transition
    assert _stage_run_changes(session, day) == (True, False)  # the draft is written
    for kind, on, options in (
            ("council-decision", date(2026, 4, 23), {"outcome": "approved"}),
            ("county-decision", date(2026, 5, 5), {"outcome": "approved"}),
            ("terms-set", date(2026, 5, 11), {"start": "2026-09-01", "years": "3",
                                              "notice_months": "6"}),
            ("signed", date(2026, 5, 20), {"party": "municipality"}),
            ("signed", date(2026, 5, 22), {"party": "county"})):
        record(session, kind, on, **options)
    _, case = get_case(session, KNR)
    assert case.stage == "system_setup"
    # The setup checklist draft is missing (services.advance writes no drafts): not settled.
    assert _stage_run_changes(session, date(2026, 5, 22)) == (False, True)
    tasks = session.exec(select(Task).where(Task.case_id == case.id,
                                            Task.stage == "system_setup")).all()
    on = date(2026, 8, 14)
    for t in tasks[:-1]:  # a checklist item that opens no gate
        cases.complete_task(session=session, task_id=t.id, on=on, ctx=ctx_for(on))
        assert _stage_run_changes(session, on) == (True, False)
    cases.complete_task(session=session, task_id=tasks[-1].id, on=on, ctx=ctx_for(on))
    assert _stage_run_changes(session, on) == (True, False)  # the start date is not reached
    # The start date reached: the gate opens on the next run, whatever the command was.
    assert _stage_run_changes(session, date(2026, 9, 1)) == (False, True)
    assert get_case(session, KNR)[1].stage == "running_operation"
