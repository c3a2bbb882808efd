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


def test_an_agreement_that_renews_itself_keeps_getting_its_duties(db_url, session):
    """An automatically renewed agreement has no last duty: the sweep must keep planning
    its periods, month after month, long after the first period has ended (the mark was
    once set to «everything planned» when the first period's duties were)."""
    knr = "1836"
    _to_running(session, knr, years="1", notice_months="3", renewal="auto")
    case = session.exec(select(OnboardingCase)).one()

    # A sweep on the first working day of every month for four years.
    on = date(2027, 4, 1)
    while on < date(2031, 4, 1):
        generate_duties(session=session, ctx=ctx_for(on))
        session.refresh(case)
        assert case.duties_until != ALL_PLANNED, f"nothing more planned after {on}"
        on += relativedelta(months=1)
    planned = _duties(session)
    # The fourth period (April 2030 – March 2031) and the horizon after it are planned:
    # follow-ups a year ahead, and the renewal decision of the period.
    assert {"duty.followup.2031-03", "duty.followup.2032-02"} <= planned
    assert any(k.startswith("duty.renewal.2031") for k in planned)
