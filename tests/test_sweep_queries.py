"""The sweep's finding steps are set-based: the same number of queries for one case as for
four (counted on a repeat sweep, when there is nothing new to insert)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import select

from avtaleflyt import db
from avtaleflyt.services import cases
from avtaleflyt.services.deadlines import (
    collect_reminders,
    generate_duties,
    schedule_political_cases,
)
from avtaleflyt.notifications.channels import TargetBook

from .conftest import ctx_for
from .reminder_support import add_meeting, advance, open_to_political, record, tasks_by_key

DAY = date(2027, 1, 6)
TODAY = date(2027, 10, 4)


def _to_running(session, knr, **terms):
    """The case in running operation from 1 April 2027; `terms` as for `terms-set`
    (default: three years, six months' notice)."""
    terms = {"years": "3", "notice_months": "6", **terms}
    open_to_political(session, knr, DAY)
    record(session, knr, "county-decision", date(2027, 2, 1), outcome="approved")
    record(session, knr, "council-decision", date(2027, 2, 2), outcome="approved")
    advance(session, knr, date(2027, 2, 2))
    record(session, knr, "terms-set", date(2027, 2, 3), start="2027-04-01", **terms)
    record(session, knr, "signed", date(2027, 2, 4), party="municipality")
    record(session, knr, "signed", date(2027, 2, 4), party="county")
    advance(session, knr, date(2027, 2, 4))
    for t in tasks_by_key(session, knr).values():
        if t.stage == "system_setup":
            cases.complete_task(session=session, task_id=t.id, on=date(2027, 3, 1),
                                ctx=ctx_for(date(2027, 3, 1)))
    advance(session, knr, date(2027, 4, 1))
    assert cases.current_stage(session=session, kommunenummer=knr).value == "running_operation"


def _count(db_url, fn) -> int:
    engine = db.get_engine(db_url)
    seen = []

    def listener(*_args):
        seen.append(1)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def _steps(session):
    ctx = ctx_for(TODAY)
    schedule_political_cases(session=session, ctx=ctx)
    generate_duties(session=session, ctx=ctx)
    collect_reminders(session=session, ctx=ctx, targets=TargetBook())


def test_same_number_of_queries_for_one_and_four_cases(db_url, session):
    _to_running(session, "1836")
    add_meeting(session, "1804", "kommunestyre", date(2027, 12, 9), DAY)
    open_to_political(session, "1804", DAY)
    _steps(session)
    one = _count(db_url, lambda: _steps(session))
    for knr in ("1811", "1812"):
        _to_running(session, knr)
    open_to_political(session, "1813", DAY)
    _steps(session)
    four = _count(db_url, lambda: _steps(session))
    assert one == four
    assert one <= 12, one


def _to_renewing(session, knr):
    """A one-year agreement that renews itself, in running operation since 1 April 2027."""
    _to_running(session, knr, years="1", notice_months="3", renewal="auto")


def test_agreements_that_run_on_cost_the_sweep_no_statements_each(db_url, session):
    """An agreement in its second period, its renewal recorded, is not loaded and run by
    every sweep (about ten statements per case before): one renewing agreement or four
    cost the same statements, and the day a period begins the sweep still records it."""
    from avtaleflyt.models import Event
    from avtaleflyt.services.sweep import advance_cases

    later = date(2028, 6, 5)  # the second period began on 1 April 2028
    _to_renewing(session, "1836")
    assert advance_cases(session=session, ctx=ctx_for(later)) == []  # records the renewal
    session.commit()
    one = _count(db_url, lambda: advance_cases(session=session, ctx=ctx_for(later)))
    for knr in ("1811", "1812", "1813"):
        _to_renewing(session, knr)
    advance_cases(session=session, ctx=ctx_for(later))
    session.commit()
    four = _count(db_url, lambda: advance_cases(session=session, ctx=ctx_for(later)))
    assert one == four <= 3, (one, four)
    renewed = session.exec(select(Event.case_id, Event.occurred_on).where(
        Event.kind == "agreement_renewed")).all()
    assert sorted(on for _, on in renewed) == [date(2028, 4, 1)] * 4
    # The day the third period begins, each of the four is run and its renewal recorded.
    advance_cases(session=session, ctx=ctx_for(date(2029, 4, 2)))
    session.commit()
    assert len(session.exec(select(Event.id).where(
        Event.kind == "agreement_renewed")).all()) == 8


def test_digests_for_many_recipients_cost_the_same_statements_as_for_one(db_url, session):
    """Building the day's digests inserts them and marks their reminders with the same
    statements for one recipient as for four (two per digest before)."""
    from avtaleflyt.services import people
    from avtaleflyt.services.reminders import build_digests

    def contact(knr):
        people.add_contact(session=session, kommunenummer=knr, name=f"Kontakt {knr}",
                           role="rådgiver", email=f"k{knr}@kommune.example", phone=None,
                           primary=True, ctx=ctx_for(DAY))

    targets = TargetBook(smtp_url="mailto://u:p@127.0.0.1:1?from=a@fylket.example")
    contact("1836")
    _to_running(session, "1836")
    collect_reminders(session=session, ctx=ctx_for(TODAY), targets=targets)

    def build(today):
        built = []
        n = _count(db_url, lambda: built.extend(build_digests(session=session,
                                                              ctx=ctx_for(today))))
        return n, built

    one, built_one = build(TODAY)
    for knr in ("1811", "1812", "1813"):
        contact(knr)
        _to_running(session, knr)
    later = TODAY + timedelta(days=1)
    collect_reminders(session=session, ctx=ctx_for(later), targets=targets)
    four, built_four = build(later)
    assert len(built_one) >= 2 and len(built_four) >= len(built_one) + 3
    assert one == four, (one, four)
    # Each digest holds exactly its recipient's reminders, as many as it counts.
    from avtaleflyt.models import Reminder

    for d in built_one + built_four:
        held = session.exec(select(Reminder.recipient).where(Reminder.digest_id == d.id)).all()
        assert len(held) == d.items and set(held) == {d.recipient}, (d.recipient, held)
