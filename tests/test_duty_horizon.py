"""Duties are planned incrementally: a running case stores the due date of its next
unplanned duty, and the sweep reads and re-plans it only when that date comes within the
horizon — not every running case every day."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta
from sqlmodel import select

from avtaleflyt.models import OnboardingCase, Task
from avtaleflyt.services.deadlines import ALL_PLANNED, generate_duties

from .conftest import ctx_for
from .test_sweep_queries import _count, _to_running

DAY = date(2027, 4, 6)


def _duties(session) -> set[str]:
    return set(session.exec(select(Task.key).where(Task.key.like("duty.%"))).all())


def test_duties_are_planned_only_when_the_horizon_reaches_the_next_one(db_url, session):
    _to_running(session, "1836")  # running from 1 April 2027, three years
    case = session.exec(select(OnboardingCase)).one()
    first = _duties(session)  # planned on entering running operation
    assert "duty.followup.2028-03" in first and "duty.followup.2028-04" not in first
    generate_duties(session=session, ctx=ctx_for(DAY))
    session.refresh(case)
    # The next unplanned duty: April 2028's follow-up (30 April 2028 is a Sunday).
    assert case.duties_until == date(2028, 4, 28)

    # Days before the horizon reaches it: nothing is read or planned, in one query.
    quiet = DAY + relativedelta(days=10)
    assert _count(db_url, lambda: generate_duties(session=session,
                                                  ctx=ctx_for(quiet))) <= 2
    assert _duties(session) == first

    # The month end it stands for (30 April 2028) comes within the twelve months on
    # 30 April 2027 (the two days before, the case is read again and nothing is added):
    # that duty is planned, and the next one becomes the case's mark.
    assert generate_duties(session=session, ctx=ctx_for(date(2027, 4, 28))) == 0
    due = date(2027, 4, 30)
    assert generate_duties(session=session, ctx=ctx_for(due)) >= 1
    session.refresh(case)
    assert "duty.followup.2028-04" in _duties(session)
    assert case.duties_until > date(2028, 4, 28)

    # At the end of the agreement every duty is planned: the case is never read again.
    end = date(2030, 3, 1)
    generate_duties(session=session, ctx=ctx_for(end))
    session.refresh(case)
    assert case.duties_until == ALL_PLANNED
    assert "duty.followup.2030-03" in _duties(session)
