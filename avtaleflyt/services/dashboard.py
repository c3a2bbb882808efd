"""Read models for the dashboard, the calendar feed and the sweep's Prefect artifact.

Set-based: each function runs a fixed number of queries however many cases there are.
Nothing here writes, and nothing here imports Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from avtaleflyt.domain import experience
from avtaleflyt.domain.forecast import forecast_running
from avtaleflyt.domain.stages import STAGE_ORDER, CaseStatus, Party, Stage
from avtaleflyt.models import AgreementTerms, ContactPerson, Event, Municipality, OnboardingCase, Task

from .context import Ctx
from .scope import EVERYWHERE, Scope

SOON_DAYS = 7


class DeadlineState:
    OVERDUE = "overdue"
    SOON = "soon"
    ON_TRACK = "on_track"
    NONE = "none"

    LABELS = {"overdue": "Forfalt", "soon": "Frist innen 7 dager", "on_track": "I rute",
              "none": "Ingen frist"}


@dataclass
class Card:
    kommunenummer: str
    municipality: str
    stage: str
    status: str
    next_deadline: date | None
    next_task: str | None
    owner: str | None  # Party value of the next deadline's task
    owner_name: str | None  # the municipality's contact named for that task, if any
    overdue: int
    state: str


@dataclass
class TaskRow:
    id: int
    kommunenummer: str
    municipality: str
    stage: str
    title: str
    responsible: str
    due_on: date
    days: int  # days overdue (positive) or days left
    case_version: int = 1
    case_updated_at: datetime | None = None


@dataclass
class Statistics:
    funnel: list[tuple[Stage, int]]
    stages: tuple[experience.StageStatistics, ...]
    forecasts: list[dict[str, Any]] = field(default_factory=list)


def _latest_case_ids():
    return (select(func.max(OnboardingCase.id).label("id"))
            .group_by(col(OnboardingCase.municipality_id)).subquery())


def _open_tasks(session: Session, scope: Scope = EVERYWHERE):
    """Open tasks with a due date of every municipality's latest case while it is active."""
    latest = _latest_case_ids()
    return session.exec(scope.where(
        select(Task, OnboardingCase, Municipality)
        .join(OnboardingCase, col(OnboardingCase.id) == Task.case_id)
        .join(latest, latest.c.id == OnboardingCase.id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(col(Task.done_on).is_(None), col(Task.due_on).is_not(None),
               OnboardingCase.status == CaseStatus.ACTIVE.value)
        .order_by(col(Task.due_on), col(Municipality.kommunenummer), col(Task.id)),
        Municipality.county_id)).all()


def _task_row(t: Task, c: OnboardingCase, m: Municipality, today: date) -> TaskRow:
    return TaskRow(t.id, m.kommunenummer, m.name, t.stage, t.title, t.responsible, t.due_on,
                   abs((today - t.due_on).days), c.version, c.updated_at)


def deadline_state(next_deadline: date | None, overdue: int, today: date) -> str:
    if overdue:
        return DeadlineState.OVERDUE
    if next_deadline is None:
        return DeadlineState.NONE
    if next_deadline <= today + timedelta(days=SOON_DAYS):
        return DeadlineState.SOON
    return DeadlineState.ON_TRACK


def board(session: Session, today: date, *, status: str | None = None,
          owner: str | None = None, scope: Scope = EVERYWHERE) -> dict[Stage, list[Card]]:
    """One column per stage; one card per municipality with a case. Two queries."""
    latest = _latest_case_ids()
    cases = session.exec(scope.where(
        select(OnboardingCase, Municipality)
        .join(latest, latest.c.id == OnboardingCase.id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .order_by(col(Municipality.kommunenummer)), Municipality.county_id)).all()
    first: dict[int, Task] = {}
    overdue: dict[int, int] = {}
    for t, c, _m in _open_tasks(session, scope):
        first.setdefault(c.id, t)
        if t.due_on < today:
            overdue[c.id] = overdue.get(c.id, 0) + 1
    names = task_contact_names(session, [t.contact_id for t in first.values()])
    columns: dict[Stage, list[Card]] = {s: [] for s in STAGE_ORDER}
    for c, m in cases:
        t = first.get(c.id)
        card = Card(m.kommunenummer, m.name, c.stage, c.status,
                    t.due_on if t else None, t.title if t else None,
                    t.responsible if t else None,
                    names.get(t.contact_id) if t and t.contact_id else None,
                    overdue.get(c.id, 0),
                    deadline_state(t.due_on if t else None, overdue.get(c.id, 0), today))
        if status and card.status != status:
            continue
        if owner and card.owner != owner:
            continue
        columns[Stage(c.stage)].append(card)
    return columns


def task_contact_names(session: Session, contact_ids: list[int | None]) -> dict[int, str]:
    """Names of the contact persons tasks are assigned to (personal data: pages behind
    login only, never the calendar feed or the Prefect artifact). One query."""
    ids = {i for i in contact_ids if i is not None}
    if not ids:
        return {}
    return dict(session.exec(select(ContactPerson.id, ContactPerson.name)
                             .where(col(ContactPerson.id).in_(ids))).all())


def case_task_contacts(session: Session, case_id: int) -> dict[int, str]:
    """{task id: name of the contact person it is assigned to} for one case. One query."""
    return dict(session.exec(
        select(Task.id, ContactPerson.name)
        .join(ContactPerson, col(ContactPerson.id) == Task.contact_id)
        .where(Task.case_id == case_id)).all())


def overdue_tasks(session: Session, today: date, scope: Scope = EVERYWHERE
                  ) -> dict[str, list[TaskRow]]:
    """Every overdue open task by responsible party, oldest first."""
    out: dict[str, list[TaskRow]] = {p.value: [] for p in Party}
    for t, c, m in _open_tasks(session, scope):
        if t.due_on < today:
            out.setdefault(t.responsible, []).append(_task_row(t, c, m, today))
    return out


def upcoming_tasks(session: Session, today: date, days: int = 30,
                   scope: Scope = EVERYWHERE) -> list[TaskRow]:
    end = today + timedelta(days=days)
    return [_task_row(t, c, m, today) for t, c, m in _open_tasks(session, scope)
            if today <= t.due_on <= end]


def feed_tasks(session: Session, today: date, responsible: str | None,
               scope: Scope = EVERYWHERE) -> list[TaskRow]:
    """Open deadlines for the calendar feed; `responsible` None means all parties."""
    return [_task_row(t, c, m, today) for t, c, m in _open_tasks(session, scope)
            if responsible is None or t.responsible == responsible]


def stage_spans(session: Session, scope: Scope = EVERYWHERE) -> list[experience.StageSpan]:
    """Every case's time in each stage, from the case rows and their stage_entered events."""
    rows = session.exec(scope.where(
        select(OnboardingCase, Municipality)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .order_by(col(OnboardingCase.id)), Municipality.county_id)).all()
    moves: dict[int, list[Event]] = {}
    for e in session.exec(scope.where(
            select(Event).join(Municipality, col(Municipality.id) == Event.municipality_id)
            .where(Event.kind == "stage_entered")
            .order_by(col(Event.occurred_on), col(Event.id)), Municipality.county_id)).all():
        moves.setdefault(e.case_id, []).append(e)
    spans = []
    for c, m in rows:
        stage, entered = Stage.FIRST_CONTACT, c.opened_on
        for e in moves.get(c.id, []):
            spans.append(experience.StageSpan(m.kommunenummer, m.name, stage, entered,
                                              e.occurred_on))
            stage, entered = Stage(e.details["to"]), e.occurred_on
        spans.append(experience.StageSpan(m.kommunenummer, m.name, stage, entered, None))
    return spans


def statistics(session: Session, ctx: Ctx, scope: Scope = EVERYWHERE) -> Statistics:
    """Funnel, time per stage, and a forecast per active case from the observed medians and
    each municipality's meeting plan (the next council meeting it can still reach)."""
    from avtaleflyt.domain.deadlines import COUNCIL, SAKSFRAMLEGG, next_reachable

    from .meetings import meetings_by_scope

    today = ctx.today
    spans = stage_spans(session, scope)
    stats = experience.stage_statistics(spans)
    funnel = [(s, len({sp.kommunenummer for sp in spans if sp.stage is s})) for s in STAGE_ORDER]
    medians = {s.stage: s.median_days for s in stats}
    latest = _latest_case_ids()
    active = session.exec(scope.where(
        select(OnboardingCase, Municipality, AgreementTerms.start_date)
        .join(latest, latest.c.id == OnboardingCase.id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .outerjoin(AgreementTerms, col(AgreementTerms.case_id) == OnboardingCase.id)
        .where(OnboardingCase.status == CaseStatus.ACTIVE.value,
               OnboardingCase.stage != Stage.RUNNING_OPERATION.value)
        .order_by(col(Municipality.kommunenummer)), Municipality.county_id)).all()
    council, _county = meetings_by_scope(session, {m.id for _, m, _ in active}, today)
    from .store import county_codes

    codes = county_codes(session, ctx)
    # A case already in political approval has its council meeting planned on its task
    # (delivery deadline included, and moved when missed): that date is the forecast's.
    planned = dict(session.exec(
        select(Task.case_id, Task.due_on)
        .where(col(Task.case_id).in_([c.id for c, _, _ in active]), Task.key == COUNCIL,
               col(Task.done_on).is_(None), col(Task.due_on).is_not(None))).all())

    def reachable(meetings: list[date], planned_on: date | None, cctx: Ctx):
        lead = cctx.config.task_due.get(SAKSFRAMLEGG, 15)

        def first(on: date) -> date | None:
            if planned_on is not None and planned_on >= on:
                return planned_on
            found = next_reachable(meetings, on, lead, cctx.calendar)
            return found[0] if found else None
        return first

    forecasts = []
    for c, m, start in active:
        meetings = council.get(m.id, [])
        f = forecast_running(stage=Stage(c.stage), entered=c.stage_entered_on, today=today,
                             medians=medians, start_date=start,
                             council_meeting=reachable(
                                 meetings, planned.get(c.id),
                                 ctx.for_county(codes.get(m.county_id)))
                             if meetings else None)
        forecasts.append({"kommunenummer": m.kommunenummer, "municipality": m.name,
                          "stage": c.stage, "expected": f.expected,
                          "missing_stage": f.missing_stage, "start_date": start,
                          "meeting_plan": bool(meetings), "council_meeting": f.council_meeting})
    return Statistics(funnel, stats, forecasts)


def sweep_artifact_rows(session: Session, today: date) -> list[dict[str, str]]:
    """Rows for the table artifact after each deadline sweep: every case's stage and
    next deadline, in Norwegian, for reading in Prefect's UI."""
    from avtaleflyt.formatting import format_date_short

    rows = []
    for stage, cards in board(session, today).items():
        for card in cards:
            rows.append({
                "Kommune": f"{card.municipality} ({card.kommunenummer})",
                "Fase": stage.label,
                "Status": CaseStatus(card.status).label,
                "Neste frist": format_date_short(card.next_deadline)
                if card.next_deadline else "–",
                "Forfalte oppgaver": str(card.overdue),
            })
    rows.sort(key=lambda r: r["Kommune"].rsplit("(", 1)[-1])
    return rows
