"""Loading a case into the domain's snapshot, and committing what the domain decided.

Every write goes through `commit_case`, which appends the events and bumps the case's
version in one transaction; a stale version means someone else wrote first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from avtaleflyt.domain.agreement import ResponsibilityRow, Terms
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.machine import CaseState, NewEvent, PlannedTask, RecordedFact, TaskView
from avtaleflyt.domain.facts import FactKind
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.stages import CaseStatus, Milestone, Party, Stage
from avtaleflyt.models import (
    AgreementTerms,
    County,
    Event,
    Municipality,
    OnboardingCase,
    ResponsibilityItem,
    Task,
    utcnow,
)

from .context import Ctx
from .scope import EVERYWHERE, Scope

_KNR = re.compile(r"^\d{4}$")
_FACT_KINDS = [k.value for k in FactKind]

CONFLICT_MESSAGE = ("Saken ble endret av noen andre samtidig. Ingenting ble lagret; "
                    "se på saken igjen og prøv på nytt.")


def check_kommunenummer(knr: str) -> str:
    knr = knr.strip()
    if not _KNR.match(knr):
        raise InvalidInput(f"Kommunenummer må være fire siffer (for eksempel 1836), ikke «{knr}».",
                           field="kommunenummer")
    return knr


def get_municipality(session: Session, knr: str, scope: Scope = EVERYWHERE) -> Municipality:
    """The municipality, if it exists and lies in `scope`: another county's municipality is
    "not found", with the same message, so a reader cannot even tell that it exists."""
    knr = check_kommunenummer(knr)
    m = session.exec(select(Municipality).where(Municipality.kommunenummer == knr)).first()
    if m is None or not scope.allows(m.county_id):
        raise NotFound(f"Fant ingen kommune med kommunenummer {knr}. "
                       "Se listen med «avtaleflyt municipality list».", field="kommunenummer")
    return m


def county_code(session: Session, municipality: Municipality) -> str | None:
    """The fylkesnummer of the municipality's county (its case's county)."""
    return session.exec(select(County.code).where(County.id == municipality.county_id)).first()


def county_ctx(session: Session, municipality: Municipality, ctx: Ctx) -> Ctx:
    """`ctx` with the configuration of the municipality's county. Without `[county."NR"]`
    sections in the configuration this is `ctx` itself and asks the database nothing."""
    if not ctx.config.counties:
        return ctx
    return ctx.for_county(county_code(session, municipality))


def county_codes(session: Session, ctx: Ctx) -> dict[int, str]:
    """county.id → fylkesnummer, for set-based code that needs `ctx.for_county` per case
    (one query, and none at all without `[county."NR"]` sections in the configuration)."""
    if not ctx.config.counties:
        return {}
    return dict(session.exec(select(County.id, County.code)).all())


MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses a larger number outright


def get_task(session: Session, task_id: int) -> Task:
    """The task, or NotFound for an unknown id (also one no database could hold)."""
    task = session.get(Task, task_id) if 0 < task_id <= MAX_ID else None
    if task is None:
        raise NotFound(f"Fant ingen oppgave med id {task_id}. "
                       "Se oppgavene med «avtaleflyt case show KNR».", field="task_id")
    return task


def task_kommunenummer(session: Session, task_id: int) -> str | None:
    """The municipality a task's case belongs to (None for an unknown task)."""
    if not 0 < task_id <= MAX_ID:
        return None
    return session.exec(
        select(Municipality.kommunenummer)
        .join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)
        .join(Task, col(Task.case_id) == OnboardingCase.id)
        .where(Task.id == task_id)).first()


def latest_case(session: Session, municipality: Municipality) -> OnboardingCase | None:
    return session.exec(
        select(OnboardingCase)
        .where(OnboardingCase.municipality_id == municipality.id)
        .order_by(col(OnboardingCase.id).desc())
    ).first()


def get_case(session: Session, knr: str, scope: Scope = EVERYWHERE
             ) -> tuple[Municipality, OnboardingCase]:
    m = get_municipality(session, knr, scope)
    case = latest_case(session, m)
    if case is None:
        raise NotFound(f"{m.name} ({m.kommunenummer}) har ingen sak. "
                       f"Åpne en med «avtaleflyt case open {m.kommunenummer}».")
    return m, case


def load_terms(session: Session, case_id: int) -> tuple[AgreementTerms | None, Terms | None]:
    row = session.exec(select(AgreementTerms).where(AgreementTerms.case_id == case_id)).first()
    if row is None:
        return None, None
    items = session.exec(select(ResponsibilityItem).where(ResponsibilityItem.terms_id == row.id)
                         .order_by(col(ResponsibilityItem.position))).all()
    # The case's own split (services/split.py) once it has one; it can change until the
    # agreement is signed, and is frozen after.
    return row, terms_of(row, tuple(case_split_rows(session, case_id) or (
        ResponsibilityRow(i.task, Party(i.responsible)) for i in items)))


def terms_of(row: AgreementTerms, split: tuple[ResponsibilityRow, ...] = ()) -> Terms:
    """The domain's terms of a stored row; without `split`, only the dates, length and
    counts (what the sweep's date checks and duty planning need)."""
    return Terms(start_date=row.start_date, years=row.years, notice_months=row.notice_months,
                 yearly_price=row.yearly_price, position_share=Decimal(row.position_share),
                 site_visits_per_year=row.site_visits_per_year, split=split,
                 months=row.months, renewal=row.renewal)


def renewals_recorded(session: Session, case_ids: list[int]) -> dict[int, set[date]]:
    """case id → the first days of the renewal periods recorded (`agreement_renewed`
    events). One query, through the cases' own events (ix_event_case_id): `kind || ''`
    keeps SQLite from choosing ix_event_kind, which holds the renewals of every agreement
    ever."""
    out: dict[int, set[date]] = defaultdict(set)
    if case_ids:
        for cid, on in session.exec(select(Event.case_id, Event.occurred_on).where(
                col(Event.case_id).in_(case_ids),
                col(Event.kind).concat("") == EventKind.AGREEMENT_RENEWED.value)).all():
            out[cid].add(on)
    return out


def case_split_rows(session: Session, case_id: int) -> list[ResponsibilityRow]:
    from avtaleflyt.models import CaseSplitRow

    return [ResponsibilityRow(r.task, Party(r.responsible)) for r in session.exec(
        select(CaseSplitRow).where(CaseSplitRow.case_id == case_id)
        .order_by(col(CaseSplitRow.position))).all()]


def case_tasks(session: Session, case_id: int) -> list[Task]:
    return list(session.exec(select(Task).where(Task.case_id == case_id)
                             .order_by(col(Task.due_on), col(Task.id))).all())


def to_view(t: Task) -> TaskView:
    return TaskView(t.id, t.key, Stage(t.stage), t.title, t.mandatory,
                    Milestone(t.milestone) if t.milestone else None, t.due_on, t.done_on)


def snapshot(session: Session, municipality: Municipality, case: OnboardingCase) -> CaseState:
    events = session.exec(
        select(Event).where(Event.case_id == case.id, col(Event.kind).in_(_FACT_KINDS))
        .order_by(col(Event.occurred_on), col(Event.id))
    ).all()
    _, terms = load_terms(session, case.id)
    return CaseState(
        municipality=municipality.name,
        stage=Stage(case.stage),
        status=CaseStatus(case.status),
        opened_on=case.opened_on,
        stage_entered_on=case.stage_entered_on,
        closed_on=case.closed_on,
        on_hold_since=case.on_hold_since,
        facts=tuple(RecordedFact(FactKind(e.kind), e.occurred_on, e.details) for e in events),
        terms=terms,
        tasks=tuple(to_view(t) for t in case_tasks(session, case.id)),
    )


def add_events(session: Session, municipality: Municipality, case: OnboardingCase | None,
               events: tuple[NewEvent, ...] | list[NewEvent], ctx: Ctx) -> None:
    for e in events:
        session.add(Event(municipality_id=municipality.id, case_id=case.id if case else None,
                          kind=e.kind, occurred_on=e.occurred_on, recorded_by=ctx.actor,
                          details=e.details))


def add_tasks(session: Session, case: OnboardingCase, planned: list[PlannedTask]) -> int:
    """Create planned tasks that do not exist yet (by key), so entry actions are idempotent."""
    existing = set(session.exec(select(Task.key).where(Task.case_id == case.id)).all())
    new = [p for p in planned if p.key not in existing]
    for p in new:
        session.add(Task(case_id=case.id, stage=p.stage.value, key=p.key, title=p.title,
                         responsible=p.responsible.value, mandatory=p.mandatory,
                         milestone=p.milestone.value if p.milestone else None, due_on=p.due_on))
    return len(new)


def close_milestone_tasks(session: Session, case: OnboardingCase, milestone: Milestone,
                          on) -> None:
    for t in session.exec(select(Task).where(Task.case_id == case.id,
                                             Task.milestone == milestone.value,
                                             col(Task.done_on).is_(None))).all():
        t.done_on = on
        session.add(t)


def commit_case(session: Session, case: OnboardingCase) -> None:
    """Commit with the case's version bumped; refuse if someone else wrote first."""
    case.updated_at = utcnow()
    session.add(case)
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(CONFLICT_MESSAGE) from None
    except IntegrityError as e:
        session.rollback()
        if "one_open" in str(e.orig) or "onboarding_case.municipality_id" in str(e.orig):
            raise Conflict("Kommunen har allerede en åpen sak. Én kommune kan ha én åpen sak."
                           ) from None
        raise
