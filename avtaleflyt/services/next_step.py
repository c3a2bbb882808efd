"""What comes next after a change: the case's first open deadline, with its reason in words.

A read after the write: the command line and the dashboard call it once a command's flow run
has returned ("Registrert: …"), so the answer reflects every deadline the change created or
moved — "Neste frist: Lever saksframlegg til kommunedirektøren innen 1. juni 2027 – 15
arbeidsdager før formannskapet 22. juni 2027." Nothing here writes, and nothing imports
Prefect.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.domain import deadlines as dl
from avtaleflyt.domain.meetingplan import body_name
from avtaleflyt.domain.stages import CaseStatus
from avtaleflyt.formatting import format_count, format_date, format_working_days
from avtaleflyt.models import Event, Meeting, OnboardingCase, Task

from .context import Ctx
from .store import county_ctx, get_municipality, latest_case

# The events that point a political task at a meeting (services/deadlines.py writes them).
_MEETING_EVENTS = ("meeting_planned", "meeting_moved")


def next_step(*, session: Session, kommunenummer: str, ctx: Ctx) -> dict[str, Any] | None:
    """The open deadline that comes first in the municipality's latest case, as
    {"task_id", "title", "due_on", "reason", "text"}; a held case says its deadlines wait.
    None when the case is closed or has no dated task left."""
    m = get_municipality(session, kommunenummer)
    case = latest_case(session, m)
    if case is None or not CaseStatus(case.status).is_open:
        return None
    if case.status == CaseStatus.ON_HOLD.value:
        return {"task_id": None, "title": None, "due_on": None, "reason": None,
                "text": "Saken er satt på vent: fristene stanser til den gjenopptas."}
    task = session.exec(select(Task).where(Task.case_id == case.id,
                                           col(Task.done_on).is_(None),
                                           col(Task.due_on).is_not(None))
                        .order_by(col(Task.due_on), col(Task.id))).first()
    if task is None or task.due_on is None:
        return None
    ctx = county_ctx(session, m, ctx)
    reason = _reason(session, case, task, m.id, ctx)
    text = f"Neste frist: {task.title} innen {format_date(task.due_on)}"
    return {"task_id": task.id, "title": task.title, "due_on": task.due_on.isoformat(),
            "reason": reason, "text": f"{text} – {reason}."}


def _reason(session: Session, case: OnboardingCase, task: Task, municipality_id: int,
            ctx: Ctx) -> str:
    meeting = _meeting_of(session, case, task) if task.key in (
        dl.SAKSFRAMLEGG, dl.COUNCIL, dl.COUNTY) else None
    if meeting is not None:
        if task.key == dl.SAKSFRAMLEGG:
            # The engine points the saksframlegg at the council meeting; its deadline counts
            # back from the first body in the saksgang that meets before it.
            lead = ctx.config.task_due.get(dl.SAKSFRAMLEGG, 15)
            first = _first_body(session, municipality_id, ctx)
            if first != "kommunestyre":
                meeting = _first_meeting(session, municipality_id, first, task.due_on,
                                         meeting) or meeting
            return f"{format_working_days(lead)} før {body_name(first)} {format_date(meeting)}"
        body = "county" if task.key == dl.COUNTY else "kommunestyre"
        return f"møtet i {body_name(body)} {format_date(meeting)}"
    return _from_today(task.due_on, ctx)  # type: ignore[arg-type]


def _from_today(due: date, ctx: Ctx) -> str:
    if due < ctx.today:
        return f"{format_count((ctx.today - due).days, 'dag', 'dager')} på overtid"
    if due == ctx.today:
        return "i dag"
    return f"om {format_working_days(ctx.calendar.working_days_between(ctx.today, due))}"


def _meeting_of(session: Session, case: OnboardingCase, task: Task) -> date | None:
    """The meeting the engine last pointed this political task at."""
    events = session.exec(select(Event).where(Event.case_id == case.id,
                                              col(Event.kind).in_(_MEETING_EVENTS))
                          .order_by(col(Event.id).desc())).all()
    for e in events:
        if e.details.get("task_id") == task.id:
            meeting = e.details.get("meeting")
            return date.fromisoformat(meeting) if meeting else None
    return None


def _first_meeting(session: Session, municipality_id: int, body: str, after: date | None,
                   until: date) -> date | None:
    """The first body's meeting that the saksframlegg deadline was counted back from."""
    q = select(Meeting.date).where(Meeting.municipality_id == municipality_id,
                                   Meeting.body == body, col(Meeting.date) <= until)
    if after is not None:
        q = q.where(col(Meeting.date) > after)
    return session.exec(q.order_by(col(Meeting.date))).first()


def _first_body(session: Session, municipality_id: int, ctx: Ctx) -> str:
    from .meetings import saksgang_by_municipality

    own = saksgang_by_municipality(session, {municipality_id}).get(municipality_id)
    return (own or ctx.config.saksgang)[0]
