"""The experience report: time per stage, stalls, closed cases and notes, for one county
or for the counties side by side (the national comparison).

Time per stage is `domain.experience` (the rule Statistikk and the case timeline share);
this module loads the rows it needs and words the rest. Read-only.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.documents.context import (
    ClosedCase,
    CountyExperience,
    ExperienceComparisonContext,
    ExperienceNote as NoteView,
    ExperienceReportContext,
    StageSpan,
)
from avtaleflyt.domain.experience import case_spans, summarise
from avtaleflyt.domain.kinds import EventKind
from avtaleflyt.domain.stages import CaseStatus, Stage
from avtaleflyt.formatting import format_date_short
from avtaleflyt.models import County, Event, ExperienceNote, Municipality, OnboardingCase, PersonalText

from . import scope as scopes
from .context import Ctx
from .document_contexts import shown

# The events the report reads: stage moves (time per stage), and why a case closed or waits.
_REPORT_EVENTS = (EventKind.STAGE_ENTERED, EventKind.CASE_REJECTED, EventKind.CASE_WITHDRAWN,
                  EventKind.CASE_ON_HOLD)


def report_county(session: Session, county: str | None,
                   scope: scopes.Scope = scopes.EVERYWHERE) -> County | None:
    """Whose experience report: the county asked for (`--county NR` or a county scope), else
    the one county that has cases; None when cases span several counties (or none yet),
    which makes the report a comparison of the counties."""
    if county is not None and str(county).strip():
        scope = scopes.scope_for_code(session, county, "--county")
    if not scope.national:
        return session.get(County, scope.county_id)
    with_cases = session.exec(
        select(Municipality.county_id).distinct()
        .join(OnboardingCase, col(OnboardingCase.municipality_id) == Municipality.id)).all()
    return session.get(County, with_cases[0]) if len(with_cases) == 1 else None


def _experience_rows(session: Session, scope: scopes.Scope, *, shared_only: bool):
    """Cases, their span events by case and their notes in `scope`: three queries.

    With `shared_only` the notes a county kept to itself are not even loaded."""
    cases = session.exec(scope.where(
        select(OnboardingCase, Municipality)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id),
        Municipality.county_id)).all()
    events = session.exec(scope.where(
        select(Event).join(OnboardingCase, col(OnboardingCase.id) == Event.case_id)
        .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
        .where(col(Event.kind).in_(_REPORT_EVENTS))
        .order_by(col(Event.case_id), col(Event.occurred_on), col(Event.id)),
        Municipality.county_id)).all()
    q = (select(ExperienceNote, Municipality, PersonalText.text)
         .join(PersonalText, col(PersonalText.id) == ExperienceNote.text_id)
         .join(OnboardingCase, col(OnboardingCase.id) == ExperienceNote.case_id)
         .join(Municipality, col(Municipality.id) == OnboardingCase.municipality_id)
         .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id)))
    if shared_only:
        q = q.where(col(ExperienceNote.shared).is_(True))
    notes = session.exec(scope.where(q, Municipality.county_id)).all()
    # Hold and withdraw reasons, by their `personal_text` id: one query.
    reason_ids = {e.details["reason_text_id"] for e in events
                  if e.details.get("reason_text_id") is not None}
    reasons = dict(session.exec(select(PersonalText.id, PersonalText.text)
                                .where(col(PersonalText.id).in_(reason_ids))).all())
    by_case: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        rid = e.details.get("reason_text_id")
        if rid is not None:  # a read-only copy with the text: the event row is never changed
            e = SimpleNamespace(id=e.id, case_id=e.case_id, kind=e.kind,
                                occurred_on=e.occurred_on, recorded_by=e.recorded_by,
                                details={**e.details, "reason": shown(reasons.get(rid))})
        by_case[e.case_id].append(e)
    return cases, by_case, notes


def experience_context(session: Session, county: County, ctx: Ctx) -> ExperienceReportContext:
    """Every case of the county as stage spans, all its notes and its closed cases: 3 queries."""
    cases, by_case, notes = _experience_rows(session, scopes.scope_of_county(county),
                                             shared_only=False)
    return _county_experience(county, cases, by_case, notes, ctx)


def _county_experience(county: County, cases, by_case, notes, ctx: Ctx,
                       note_county: str | None = None) -> ExperienceReportContext:
    spans: list[StageSpan] = []
    closed: list[ClosedCase] = []
    for case, m in sorted(cases, key=lambda cm: (cm[1].kommunenummer, cm[0].id)):
        spans += case_spans(m.kommunenummer, m.name, opened_on=case.opened_on,
                            moves=[(e.occurred_on, e.details["to"]) for e in by_case[case.id]
                                   if e.kind == EventKind.STAGE_ENTERED],
                            status=case.status, closed_on=case.closed_on)
        if case.status in (CaseStatus.REJECTED.value, CaseStatus.WITHDRAWN.value):
            closed.append(ClosedCase(m.name, case.status, case.closed_on or case.stage_entered_on,
                                     _closing_reason(by_case[case.id])))
    closed.sort(key=lambda c: (c.date, c.municipality))
    waiting = {}
    for case, m in cases:
        if case.status == CaseStatus.ON_HOLD.value:
            held = [e for e in by_case[case.id] if e.kind == EventKind.CASE_ON_HOLD]
            reason = held[-1].details.get("reason") if held else None
            since = format_date_short(case.on_hold_since) if case.on_hold_since else None
            waiting[m.kommunenummer] = (f"Satt på vent{f' {since}' if since else ''}"
                                        f"{f': {reason}' if reason else ''}")
    return ExperienceReportContext(
        county_name=county.library_name or county.name, generated=ctx.today, spans=spans,
        notes=[NoteView(m.name, n.stage, n.theme, shown(text), n.noted_on, note_county)
               for n, m, text in notes],
        closed_cases=closed, waiting_reasons=waiting)


def comparison_context(session: Session, ctx: Ctx) -> ExperienceComparisonContext:
    """The counties that have cases, side by side, with only their shared notes: 4 queries."""
    cases, by_case, notes = _experience_rows(session, scopes.EVERYWHERE, shared_only=True)
    ids = {m.county_id for _, m in cases}
    counties = session.exec(select(County).where(col(County.id).in_(ids))
                            .order_by(col(County.code))).all() if ids else []
    out = []
    for county in counties:
        mine = [(case, m) for case, m in cases if m.county_id == county.id]
        short = county.name.removesuffix(" fylkeskommune")
        report = _county_experience(county, mine, by_case,
                                    [(n, m, t) for n, m, t in notes if m.county_id == county.id],
                                    ctx, note_county=short)
        status = [(CaseStatus(case.status), Stage(case.stage)) for case, _ in mine]
        out.append(CountyExperience(
            county.code, county.name, county.library_name, report,
            running=sum(1 for st, sg in status
                        if st.is_open and sg is Stage.RUNNING_OPERATION),
            in_progress=sum(1 for st, sg in status
                            if st.is_open and sg is not Stage.RUNNING_OPERATION),
            rejected=sum(1 for st, _ in status if st is CaseStatus.REJECTED),
            withdrawn=sum(1 for st, _ in status if st is CaseStatus.WITHDRAWN),
            ended=sum(1 for st, _ in status if st is CaseStatus.COMPLETED)))
    return ExperienceComparisonContext(ctx.today, out)


def _closing_reason(events: list[Event]) -> str:
    for e in reversed(events):
        if e.kind == EventKind.CASE_WITHDRAWN:
            return e.details.get("reason") or "Ingen begrunnelse oppgitt"
        if e.kind == EventKind.CASE_REJECTED:
            reason = f"Avslått av {e.details.get('by', 'ukjent organ')}"
            if e.details.get("reference"):
                reason += f" (sak {e.details['reference']})"
            return reason
    return "Ingen begrunnelse oppgitt"


def _stage_figures(stages) -> list[dict[str, Any]]:
    def who(d):
        return None if d is None else {"kommunenummer": d.kommunenummer,
                                       "municipality": d.municipality, "days": d.days}

    return [{"stage": s.stage.value, "label": s.stage.label, "entered": s.entered,
             "completed": s.completed, "median_days": s.median_days,
             "min_days": s.min_days, "max_days": s.max_days,
             "quickest": who(s.quickest), "slowest": who(s.slowest)} for s in stages]


def experience_figures(*, session: Session, ctx: Ctx, county: str | None = None,
                       scope: scopes.Scope = scopes.EVERYWHERE) -> dict[str, Any]:
    """The experience report's figures as plain data (for `--json`): one county's, or, when
    the report spans several counties, each county's side by side (`"scope": "national"`)."""
    c = report_county(session, county, scope)
    if c is None:
        return comparison_figures(session=session, ctx=ctx)
    context = experience_context(session, c, ctx)
    summary = summarise(context.spans, today=ctx.today)
    return {
        "scope": "county",
        "county": c.name,
        "county_code": c.code,
        "library_name": c.library_name,
        "generated": ctx.today.isoformat(),
        "stages": _stage_figures(summary.stages),
        "stalls": [{"kommunenummer": s.kommunenummer, "municipality": s.municipality,
                    "stage": s.stage.value, "entered": s.entered.isoformat(),
                    "days_so_far": s.days_so_far, "limit_days": s.limit_days,
                    "basis": s.basis.value,
                    "waiting_reason": context.waiting_reasons.get(s.kommunenummer)}
                   for s in summary.stalls],
        "closed_cases": [{"municipality": c.municipality, "status": c.status.value,
                          "date": c.date.isoformat(), "reason": c.reason}
                         for c in context.closed_cases],
        "notes_per_theme": {t.value: len(ns) for t, ns in context.notes_by_theme},
    }


def comparison_figures(*, session: Session, ctx: Ctx) -> dict[str, Any]:
    """The counties side by side, as plain data; notes only where their county shared them."""
    context = comparison_context(session, ctx)
    return {
        "scope": "national",
        "generated": ctx.today.isoformat(),
        "counties": [{
            "code": c.code, "county": c.name, "library_name": c.library_name,
            "cases": c.cases,
            "outcomes": {"running": c.running, "in_progress": c.in_progress,
                         "rejected": c.rejected, "withdrawn": c.withdrawn, "ended": c.ended},
            "stages": _stage_figures(c.summary.stages),
            "shared_notes_per_theme": {t.value: len(ns) for t, ns in c.report.notes_by_theme},
        } for c in context.counties],
        "shared_notes": [{"county_code": c.code, "municipality": n.municipality,
                          "theme": n.theme.value, "stage": n.stage.value,
                          "date": n.date.isoformat(), "text": n.text}
                         for c in context.counties for n in c.report.notes],
    }
