"""After a change, what comes next: the case's first open deadline with its reason in words,
read after the write (services/next_step.py), through the real services on SQLite."""

from __future__ import annotations

from datetime import date

from avtaleflyt.services import cases
from avtaleflyt.services.next_step import next_step

from .conftest import ctx_for
from .reminder_support import add_meeting, open_to_political, record

KNR = "1837"
DAY = date(2027, 5, 18)


def test_entering_political_approval_says_when_the_saksframlegg_is_due_and_why(session):
    add_meeting(session, KNR, "formannskap", date(2027, 6, 15), DAY)
    add_meeting(session, KNR, "kommunestyre", date(2027, 6, 24), DAY)
    open_to_political(session, KNR, DAY)
    step = next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY))
    assert step["title"] == "Lever saksframlegg til kommunedirektøren"
    assert step["text"] == ("Neste frist: Lever saksframlegg til kommunedirektøren innen "
                            "25. mai 2027 – 15 arbeidsdager før formannskapet 15. juni 2027.")

    # The formannskap moves a week: the answer follows the moved deadline.
    from avtaleflyt.services import meetings

    meeting = next(m for m in meetings.list_meetings(session, kommunenummer=KNR)
                   if m["body"] == "formannskap")
    meetings.move_meeting(session=session, meeting_id=meeting["id"], on=date(2027, 6, 22),
                          ctx=ctx_for(DAY))
    step = next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY))
    assert "15 arbeidsdager før formannskapet 22. juni 2027" in step["text"]
    assert "innen 1. juni 2027" in step["text"]


def test_a_decision_is_due_at_its_meeting_and_a_held_case_says_it_waits(session):
    add_meeting(session, KNR, "kommunestyre", date(2027, 6, 24), DAY)
    open_to_political(session, KNR, DAY)
    task = next(t for t in cases_tasks(session) if t.key == "political.saksframlegg")
    cases.complete_task(session=session, task_id=task.id, on=DAY, ctx=ctx_for(DAY))
    step = next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY))
    assert step["text"].startswith("Neste frist: Vedtak i kommunestyret innen 24. juni 2027")
    assert step["reason"] == "møtet i kommunestyret 24. juni 2027"

    cases.hold(session=session, kommunenummer=KNR, on=DAY, reason=None, ctx=ctx_for(DAY))
    assert next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY))["text"] == (
        "Saken er satt på vent: fristene stanser til den gjenopptas.")


def test_a_first_contact_deadline_counts_working_days_and_a_closed_case_has_none(session):
    cases.open_case(session=session, kommunenummer=KNR, opened_on=DAY, ctx=ctx_for(DAY))
    step = next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY))
    assert step["text"].startswith("Neste frist: ") and " – om " in step["text"]
    assert "arbeidsdag" in step["reason"]
    record(session, KNR, "meeting-held", DAY)
    cases.withdraw(session=session, kommunenummer=KNR, on=DAY, reason=None, ctx=ctx_for(DAY))
    assert next_step(session=session, kommunenummer=KNR, ctx=ctx_for(DAY)) is None


def cases_tasks(session):
    from sqlmodel import select

    from avtaleflyt.models import Task

    return session.exec(select(Task)).all()
