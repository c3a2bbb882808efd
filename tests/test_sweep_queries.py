"""The sweep's finding steps are set-based: the same number of queries for one case as for
four (counted on a repeat sweep, when there is nothing new to insert)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

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


def _to_running(session, knr):
    open_to_political(session, knr, DAY)
    record(session, knr, "county-decision", date(2027, 2, 1), outcome="approved")
    record(session, knr, "council-decision", date(2027, 2, 2), outcome="approved")
    advance(session, knr, date(2027, 2, 2))
    record(session, knr, "terms-set", date(2027, 2, 3), start="2027-04-01", years="3",
           notice_months="6")
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
