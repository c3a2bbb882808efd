"""Notice (oppsigelse) recorded through the service, on SQLite and PostgreSQL: an event row
with its end date, duties after the end removed, the renewal duty settled, the case
ended by the sweep on that date, and what `case show` and the history say."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from avtaleflyt.domain.errors import Conflict
from avtaleflyt.models import Event, Task
from avtaleflyt.services import cases, queries

from .conftest import ctx_for
from .reminder_support import advance, record, tasks_by_key
from .test_politics_services import KNR, _to_running


def _running(session, renewal):
    # A four-month agreement from 1.9.2026 with one month's notice: periods end 31.12.2026,
    # 30.04.2027, 31.08.2027 …; the first notice deadline is 30.11.2026 (a Monday).
    _to_running(session, date(2026, 9, 1), 4, renewal)
    for task in tasks_by_key(session, KNR).values():
        if task.stage == "system_setup" and task.done_on is None and task.milestone is None:
            cases.complete_task(session=session, task_id=task.id, on=date(2026, 8, 1),
                                ctx=ctx_for(date(2026, 8, 1)))
    advance(session, KNR, date(2026, 9, 1))


def _events(session, kind):
    return session.exec(select(Event).where(Event.kind == kind)).all()


def test_notice_after_the_deadline_ends_the_agreement_after_the_next_period(session):
    from avtaleflyt.services.store import get_case
    from avtaleflyt.services.sweep import advance_cases

    _running(session, "auto")
    advance_cases(session=session, ctx=ctx_for(date(2026, 12, 1)))  # plans duties
    keys = set(tasks_by_key(session, KNR))
    assert "duty.renewal.2026-11-30" in keys
    # Given 1.12.2026, a day after the deadline: the agreement ends 30.04.2027.
    out = record(session, KNR, "notice-given", date(2026, 12, 1), party="county")
    assert "Sagt opp 1. desember 2026 av fylkeskommunen; avtalen slutter 30. april 2027" \
        in out.message
    (notice,) = _events(session, "notice_given")
    assert notice.details == {"party": "county", "ends_on": "2027-04-30"}
    tasks = tasks_by_key(session, KNR)
    assert tasks["duty.renewal.2026-11-30"].done_on == date(2026, 12, 1)  # settled
    assert not [k for k, t in tasks.items() if k.startswith("duty.")
                and t.due_on and t.due_on > date(2027, 5, 5)]
    # Recorded again the same: no change; another notice: refused, nothing written.
    again = record(session, KNR, "notice-given", date(2026, 12, 1), party="county")
    assert again.changed is False
    with pytest.raises(Conflict, match="allerede registrert"):
        record(session, KNR, "notice-given", date(2026, 12, 2), party="municipality")
    assert len(_events(session, "notice_given")) == 1

    detail = queries.case_detail(session, KNR, date(2026, 12, 2))
    assert detail["terms"]["notice"]["text"] == (
        "Sagt opp 1. desember 2026 av fylkeskommunen; avtalen slutter 30. april 2027")
    labels = [e["label"] for e in detail["history"]]
    assert "Avtalen er sagt opp av fylkeskommunen; avtalen slutter 30. april 2027" in labels

    # The sweep renews once (1.1.2027), plans the last period's duties and no more, and
    # ends the case the day after 30.04.2027.
    advance_cases(session=session, ctx=ctx_for(date(2027, 1, 4)))
    from avtaleflyt.services.deadlines import generate_duties

    generate_duties(session=session, ctx=ctx_for(date(2027, 1, 4)))
    keys = set(tasks_by_key(session, KNR))
    assert "duty.evaluation.end-2027-04-30" in keys
    # The last period's renewal duty (planned before notice) was settled by the notice.
    renewals = {k: t.done_on for k, t in tasks_by_key(session, KNR).items()
                if k.startswith("duty.renewal.")}
    assert renewals == {"duty.renewal.2026-11-30": date(2026, 12, 1),
                        "duty.renewal.2027-03-30": date(2026, 12, 1)}
    assert not [k for k in keys if k.startswith("duty.followup.") and k > "duty.followup.2027-04"]
    advance_cases(session=session, ctx=ctx_for(date(2027, 4, 30)))
    assert get_case(session, KNR)[1].status == "active"
    advance_cases(session=session, ctx=ctx_for(date(2027, 5, 3)))
    _, case = get_case(session, KNR)
    assert case.status == "completed" and case.closed_on == date(2027, 4, 30)
    assert [e.occurred_on for e in _events(session, "agreement_renewed")] == [date(2027, 1, 1)]
    (ended,) = _events(session, "agreement_ended")
    assert ended.details == {"end_date": "2027-04-30", "by_notice": True}


def test_notice_on_a_fixed_term_or_before_running_operation_is_refused(session):
    _running(session, "none")
    before = session.exec(select(Event)).all()
    with pytest.raises(Conflict) as e:
        record(session, KNR, "notice-given", date(2026, 10, 1), party="municipality")
    assert e.value.field == "renewal" and "fast periode" in e.value.message
    assert len(session.exec(select(Event)).all()) == len(before)
    assert session.exec(select(Task).where(Task.done_on == date(2026, 10, 1))).all() == []
