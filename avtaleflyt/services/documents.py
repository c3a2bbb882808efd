"""Documents from the case store: build each document's data, render it, store it.

Rendering happens entirely in memory first; only a document that rendered completely is
stored (in the database, see document_store.py), so a template error leaves nothing.
Stored versions are never replaced: each new rendering is a new version, and two writers
that race for the same number end up with two distinct versions (the database's unique
indexes decide).

Storing a document is not a change to a case, so it appends no Event: the `document` row
itself is the insert-only record. Nothing here imports Prefect.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, col, select

from avtaleflyt.documents.context import (
    AgreementContext,
    AgreementPeriod,
    ChecklistContext,
    period_of,
    ChecklistItem,
    ClosedCase,
    Contact,
    CountyExperience,
    DataProcessingContext,
    DutyRecord,
    ExperienceComparisonContext,
    ExperienceNote as NoteView,
    ExperienceReportContext,
    Party,
    SaksframleggContext,
    SaksgangStep,
    StageSpan,
    StandardOffer,
    YearlyReportContext,
)
from avtaleflyt.documents.render import DocumentError, DocumentRenderer
from avtaleflyt.domain import machine
from avtaleflyt.domain.agreement import DEFAULT_SPLIT, ResponsibilityRow, Terms
from avtaleflyt.domain.meetingplan import FORMANNSKAP, KOMMUNESTYRE
from avtaleflyt.domain.errors import Conflict, InvalidInput, NotFound
from avtaleflyt.domain.experience import case_spans, summarise
from avtaleflyt.domain.stages import CaseStatus, FactKind, Stage
from avtaleflyt.formatting import format_date_short
from avtaleflyt.settings import Settings
from avtaleflyt.models import (
    ContactPerson,
    County,
    Document,
    Event,
    ExperienceNote,
    Meeting,
    Municipality,
    OnboardingCase,
    PersonalText,
    Task,
)

from . import scope as scopes
from .context import Ctx
from .store import get_case, load_terms

FORMATS = ("html", "docx", "pdf")
CASE_KINDS = ("saksframlegg", "agreement", "databehandleravtale", "setup_checklist",
              "yearly_report")
# The experience report covers one county, or compares the counties (the national report).
COUNTY_KINDS = ("experience_report", "experience_comparison")
NATIONAL_FOLDER = "landet"

KIND_LABELS = {
    "saksframlegg": "Saksframlegg",
    "agreement": "Samarbeidsavtale",
    "databehandleravtale": "Databehandleravtale",
    "setup_checklist": "Sjekkliste for systemoppsett",
    "yearly_report": "Årsrapport",
    "experience_report": "Erfaringsrapport",
    "experience_comparison": "Erfaringer på tvers av fylkene",
}

# The drafts each stage produces when a case enters it. The data processing agreement
# (GDPR art. 28) is signed together with the cooperation agreement.
STAGE_DOCUMENTS: dict[Stage, tuple[str, ...]] = {
    Stage.POLITICAL_APPROVAL: ("saksframlegg",),
    Stage.CONTRACT_SIGNING: ("agreement", "databehandleravtale"),
    Stage.SYSTEM_SETUP: ("setup_checklist",),
}

# The events the report reads: stage moves (time per stage), and why a case closed or waits.
_REPORT_EVENTS = ("stage_entered", "case_rejected", "case_withdrawn", "case_on_hold")


# --- input checks ---------------------------------------------------------------------


def check_kind(kind: str, allowed: tuple[str, ...] = CASE_KINDS) -> str:
    kind = kind.strip().lower().replace("-", "_")
    if kind not in allowed:
        raise InvalidInput(f"Ukjent dokumenttype «{kind}». Velg en av: {', '.join(allowed)}.",
                           field="kind")
    return kind


def check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"«--format»: «{fmt}» er ikke et gyldig format. Velg html, docx "
                           "eller pdf.", field="format")
    return fmt


# --- who a document is about ----------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose document it is: one municipality's case, a whole county, or (no county) every
    county, compared."""

    county: County | None
    municipality: Municipality | None = None
    case: OnboardingCase | None = None

    @property
    def folder(self) -> str:
        if self.municipality is not None:
            return self.municipality.kommunenummer
        if self.county is None:
            return NATIONAL_FOLDER
        return f"fylke-{self.county.code}"


def _county_party(county: County, ctx: Ctx | None = None) -> Party:
    """The county side as the documents name it: the county's own name, its organisation
    number from the county's configuration, and its library."""
    org = ctx.config.documents.county_org_number if ctx is not None else None
    return Party(county.name, org_number=org, signatory_role="Fylkesbiblioteksjef",
                 library_name=county.library_name)


def _municipality_party(m: Municipality) -> Party:
    return Party(f"{m.name} kommune", signatory_role="Kommunedirektør")


def _standard_offer(ctx: Ctx) -> StandardOffer:
    a = ctx.config.agreement
    return StandardOffer(a.yearly_price, a.position_share, a.site_visits_per_year)


def _case_scope(session: Session, kommunenummer: str) -> Scope:
    m, case = get_case(session, kommunenummer)
    return Scope(session.get(County, m.county_id), m, case)


def _report_county(session: Session, county: str | None,
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


# --- contexts -------------------------------------------------------------------------


def _reference(session: Session, case: OnboardingCase) -> str | None:
    """The council's case number, once a council decision with one has been recorded."""
    refs = session.exec(select(Event.details).where(
        Event.case_id == case.id, Event.kind == FactKind.COUNCIL_DECISION.value)
        .order_by(col(Event.occurred_on).desc(), col(Event.id).desc())).all()
    return next((d["reference"] for d in refs if d.get("reference")), None)


# --- seams: what the documents read from the case ------------------------------------
# Each of these is the one place a document reads a fact that the political process and
# the agreement terms own (branch `politics` moves the split into a per-case table, adds a
# saksgang per municipality, terms in months and renewal none|auto). Switching a document
# to the new source means changing only the function here.

# The bodies a case goes through when the municipality has no saksgang of its own.
DEFAULT_SAKSGANG: tuple[str, ...] = (FORMANNSKAP, KOMMUNESTYRE)
_BODY_LABELS = {FORMANNSKAP: "Formannskapet", KOMMUNESTYRE: "Kommunestyret"}


def case_split(session: Session, case: OnboardingCase,
               terms: Terms | None) -> tuple[ResponsibilityRow, ...]:
    """The case's own responsibility split (grenseoppgang), as the coordinator left it
    (`services/split.py`; the county's default until changed)."""
    from .split import case_split as own_split

    return tuple(own_split(session, case))


def agreement_period(terms: Terms | None, ctx: Ctx) -> AgreementPeriod | None:
    """The term as the engine computes it: start, last day, the notice deadline rolled to
    the previous working day (`domain.agreement.notice_deadline_for`, the rule the duties
    use), the length in years and months, and whether the agreement renews itself."""
    return period_of(terms, calendar=ctx.calendar)


def saksgang(session: Session, m: Municipality, ctx: Ctx) -> tuple[SaksgangStep, ...]:
    """The bodies the saksframlegg goes through, in order, each with its next meeting from
    the meeting plan (on or after today, and after the previous body's meeting)."""
    from .meetings import saksgang_by_municipality
    from .store import county_ctx

    bodies = (saksgang_by_municipality(session, {m.id}).get(m.id)
              or county_ctx(session, m, ctx).config.saksgang or DEFAULT_SAKSGANG)
    meetings = session.exec(select(Meeting.body, Meeting.date).where(
        Meeting.municipality_id == m.id, col(Meeting.body).in_(bodies),
        Meeting.date >= ctx.today).order_by(col(Meeting.date))).all()
    steps, after = [], ctx.today
    for body in bodies:
        day = next((d for b, d in meetings if b == body and d >= after), None)
        steps.append(SaksgangStep(_BODY_LABELS.get(body, body.capitalize()), day))
        after = day or after
    return tuple(steps)


def needs_situation(session: Session, case: OnboardingCase) -> str | None:
    """The municipality's situation as written when its needs were assessed (`personal_text`,
    so it can be erased: then «[sladdet]»), or None if nothing was written."""
    rows = session.exec(select(Event.details).where(
        Event.case_id == case.id, Event.kind == FactKind.NEEDS_ASSESSED.value)
        .order_by(col(Event.occurred_on).desc(), col(Event.id).desc())).all()
    text_id = next((d["situation_text_id"] for d in rows if d.get("situation_text_id")), None)
    if text_id is None:
        return None
    return _shown(session.exec(select(PersonalText.text)
                               .where(PersonalText.id == text_id)).first())


def municipality_contact(session: Session, m: Municipality) -> Contact | None:
    """The municipality's primary contact person, whom the agreements name."""
    c = session.exec(select(ContactPerson).where(ContactPerson.municipality_id == m.id,
                                                 col(ContactPerson.is_primary).is_(True))).first()
    return Contact(c.name, c.role, c.email, c.phone) if c is not None else None


def saksframlegg_context(session: Session, scope: Scope, ctx: Ctx) -> SaksframleggContext:
    _, terms = load_terms(session, scope.case.id)
    return SaksframleggContext(
        county=_county_party(scope.county, ctx), municipality=_municipality_party(scope.municipality),
        today=ctx.today, responsibilities=case_split(session, scope.case, terms), terms=terms,
        standard_terms=_standard_offer(ctx), reference=_reference(session, scope.case),
        situation=needs_situation(session, scope.case), period=agreement_period(terms, ctx),
        saksgang=saksgang(session, scope.municipality, ctx), clauses=ctx.config.documents)


def agreement_context(session: Session, scope: Scope, ctx: Ctx) -> AgreementContext:
    _, terms = load_terms(session, scope.case.id)
    # No `reference`: the agreement prints it as the county's own ("Vår referanse"), and the
    # store knows only the municipal council's case number.
    return AgreementContext(
        _county_party(scope.county, ctx), _municipality_party(scope.municipality), terms,
        today=ctx.today, standard_terms=_standard_offer(ctx),
        split=case_split(session, scope.case, terms), period=agreement_period(terms, ctx),
        clauses=ctx.config.documents,
        municipality_contact=municipality_contact(session, scope.municipality))


def data_processing_context(session: Session, scope: Scope,
                            ctx: Ctx) -> DataProcessingContext:
    _, terms = load_terms(session, scope.case.id)
    return DataProcessingContext(
        _county_party(scope.county, ctx), _municipality_party(scope.municipality),
        today=ctx.today, period=agreement_period(terms, ctx), clauses=ctx.config.documents,
        municipality_contact=municipality_contact(session, scope.municipality))


def checklist_context(session: Session, scope: Scope, ctx: Ctx) -> ChecklistContext:
    """The setup tasks as stored; before the stage begins, as they would be planned today."""
    _, terms = load_terms(session, scope.case.id)
    rows = session.exec(
        select(Task, ContactPerson.name)
        .outerjoin(ContactPerson, col(ContactPerson.id) == Task.contact_id)
        .where(Task.case_id == scope.case.id, Task.stage == Stage.SYSTEM_SETUP.value)
        .order_by(col(Task.id))).all()
    if rows:
        items = [ChecklistItem(t.title, t.responsible, t.due_on, t.done_on, t.mandatory, name)
                 for t, name in rows]
    else:
        planned = machine.plan_stage_tasks(Stage.SYSTEM_SETUP, ctx.today, terms, ctx.calendar,
                                           ctx.config.task_due)
        items = [ChecklistItem(p.title, p.responsible, p.due_on, None, p.mandatory)
                 for p in planned]
    return ChecklistContext(_county_party(scope.county), _municipality_party(scope.municipality),
                            items, today=ctx.today,
                            start_date=terms.start_date if terms else None,
                            responsibilities=case_split(session, scope.case, terms))


def yearly_report_context(session: Session, scope: Scope, ctx: Ctx,
                          year: int) -> YearlyReportContext:
    case = scope.case
    if case.stage != Stage.RUNNING_OPERATION.value:
        raise Conflict(f"{scope.municipality.name} er ikke i drift ennå (fasen er "
                       f"«{Stage(case.stage).label}»); årsrapporten gjelder avtaler i drift.")
    _, terms = load_terms(session, case.id)
    first = max(case.stage_entered_on.year, terms.start_date.year if terms else 0)
    if not first <= year <= ctx.today.year:
        raise InvalidInput(f"«--year»: {year} er utenfor driftsperioden ({first}–"
                           f"{ctx.today.year}).", field="year")
    start, end = date(year, 1, 1), date(year, 12, 31)
    tasks = session.exec(
        select(Task).where(Task.case_id == case.id, Task.stage == Stage.RUNNING_OPERATION.value,
                           col(Task.due_on).between(start, end))
        .order_by(col(Task.due_on), col(Task.id))).all()
    visits = [t for t in tasks if "visit" in t.key]
    duties = [DutyRecord(t.title, t.due_on, t.done_on) for t in tasks if t not in visits]
    notes = session.exec(
        select(ExperienceNote, PersonalText.text)
        .join(PersonalText, col(PersonalText.id) == ExperienceNote.text_id)
        .where(ExperienceNote.case_id == case.id,
               col(ExperienceNote.noted_on).between(start, end))
        .order_by(col(ExperienceNote.noted_on), col(ExperienceNote.id))).all()
    name = scope.municipality.name
    return YearlyReportContext(
        _county_party(scope.county), _municipality_party(scope.municipality), year, duties,
        site_visits_done=sum(1 for t in visits if t.done_on is not None),
        site_visits_planned=len(visits) or (terms.site_visits_per_year if terms else 0),
        today=ctx.today,
        notes=[NoteView(name, n.stage, n.theme, _shown(text), n.noted_on) for n, text in notes],
        responsibilities=case_split(session, case, terms))


def _shown(text: str | None) -> str:
    """A note's or reason's text from `personal_text`, or «[sladdet]» once redacted."""
    from .texts import REDACTED

    return REDACTED if text is None else text


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
                                details={**e.details, "reason": _shown(reasons.get(rid))})
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
                                   if e.kind == "stage_entered"],
                            status=case.status, closed_on=case.closed_on)
        if case.status in (CaseStatus.REJECTED.value, CaseStatus.WITHDRAWN.value):
            closed.append(ClosedCase(m.name, case.status, case.closed_on or case.stage_entered_on,
                                     _closing_reason(by_case[case.id])))
    closed.sort(key=lambda c: (c.date, c.municipality))
    waiting = {}
    for case, m in cases:
        if case.status == CaseStatus.ON_HOLD.value:
            held = [e for e in by_case[case.id] if e.kind == "case_on_hold"]
            reason = held[-1].details.get("reason") if held else None
            since = format_date_short(case.on_hold_since) if case.on_hold_since else None
            waiting[m.kommunenummer] = (f"Satt på vent{f' {since}' if since else ''}"
                                        f"{f': {reason}' if reason else ''}")
    return ExperienceReportContext(
        county_name=county.library_name or county.name, generated=ctx.today, spans=spans,
        notes=[NoteView(m.name, n.stage, n.theme, _shown(text), n.noted_on, note_county)
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
        if e.kind == "case_withdrawn":
            return e.details.get("reason") or "Ingen begrunnelse oppgitt"
        if e.kind == "case_rejected":
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
    c = _report_county(session, county, scope)
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


# --- rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    scope: Scope
    kind: str
    files: dict[str, bytes]  # format -> content


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from avtaleflyt import runtime  # the entry point's settings (a cycle at import time)

    return runtime.settings()


def render(*, session: Session, kind: str, formats: tuple[str, ...], ctx: Ctx,
           kommunenummer: str | None = None, county: str | None = None,
           year: int | None = None, settings: Settings | None = None,
           read_scope: scopes.Scope = scopes.EVERYWHERE) -> Rendered:
    """Render one document from the current data, in every format asked for, in memory.

    The experience report covers `county` (or `read_scope`'s county, or the one county that
    has cases); otherwise it becomes the comparison of the counties."""
    kind = check_kind(kind, CASE_KINDS + COUNTY_KINDS)
    formats = tuple(dict.fromkeys(check_format(f) for f in formats))
    if kind in COUNTY_KINDS:
        c = (None if kind == "experience_comparison"
             else _report_county(session, county, read_scope))
        scope = Scope(c)
        if c is None:
            kind = "experience_comparison"
            context: Any = comparison_context(session, ctx)
        else:
            context = experience_context(session, c, ctx)
    else:
        if kommunenummer is None:
            raise InvalidInput("Kommunenummer mangler.", field="kommunenummer")
        scope = _case_scope(session, kommunenummer)
        ctx = ctx.for_county(scope.county.code)  # the county's standard offer and deadlines
        if kind == "saksframlegg":
            context = saksframlegg_context(session, scope, ctx)
        elif kind == "agreement":
            context = agreement_context(session, scope, ctx)
        elif kind == "databehandleravtale":
            context = data_processing_context(session, scope, ctx)
        elif kind == "setup_checklist":
            context = checklist_context(session, scope, ctx)
        else:
            context = yearly_report_context(session, scope, ctx,
                                            year if year is not None else ctx.today.year - 1)
    renderer = DocumentRenderer(_settings(settings).template_dir, 
                                county=scope.county.code if scope.county else None)
    created = datetime.now(UTC)  # the files' "created" property; the HTML does not carry it
    files = {fmt: renderer.render(kind, context, fmt, created=created) for fmt in formats}
    return Rendered(scope, kind, files)


# --- storing --------------------------------------------------------------------------
# In the database: see document_store.py. The file helpers stay importable from here.

from .document_store import (  # noqa: E402,F401
    disk_problem,
    documents_root,
    replace_file,
    write_atomically,
)


def store_document(*, session: Session, kind: str, ctx: Ctx, kommunenummer: str | None = None,
                   county: str | None = None, formats: tuple[str, ...] = ("html",),
                   year: int | None = None, settings: Settings | None = None,
                   read_scope: scopes.Scope = scopes.EVERYWHERE) -> list[Document]:
    """Render a new version of a document from the current data and store it.

    Returns one row per format; `row.path` is the version's name, its bytes are
    `document_store.content(session, row)`.
    """
    from . import document_store

    rendered = render(session=session, kind=kind, formats=formats, ctx=ctx,
                      kommunenummer=kommunenummer, county=county, year=year, settings=settings,
                      read_scope=read_scope)
    return document_store.store(session, rendered, ctx)


def ensure_stage_documents(*, session: Session, kommunenummer: str, ctx: Ctx,
                           settings: Settings | None = None) -> list[str]:
    """Write the drafts the case's current stage calls for, each unless the case already
    has one of that kind.

    Safe to repeat. Returns the stored versions' names, if any.
    """
    _, case = get_case(session, kommunenummer)
    kinds = STAGE_DOCUMENTS.get(Stage(case.stage), ())
    if not CaseStatus(case.status).is_open:
        return []
    paths: list[str] = []
    for kind in kinds:
        exists = session.exec(select(Document.id).where(Document.case_id == case.id,
                                                        Document.kind == kind)).first()
        if exists is not None:
            continue
        try:
            rows = store_document(session=session, kind=kind, ctx=ctx,
                                  kommunenummer=kommunenummer, formats=FORMATS,
                                  settings=settings)
        except DocumentError as e:
            # The case change before this is committed; say so, and how the draft gets made.
            raise DocumentError(
                f"{e.message} Saken er oppdatert, men utkastet «{KIND_LABELS[kind]}» ble ikke "
                f"laget. Rett malen og kjør «avtaleflyt case advance {kommunenummer}».",
                field=e.field) from e
        paths += [r.path for r in rows]
    return paths


def list_documents(*, session: Session, kommunenummer: str | None = None,
                   county: str | None = None, settings: Settings | None = None,
                   read_scope: scopes.Scope = scopes.EVERYWHERE) -> list[dict[str, Any]]:
    """A municipality's stored documents (all its cases), or the reports: a county's
    (`county` or a county `read_scope`), else every county's and the national ones."""
    q = select(Document, County.code).outerjoin(County, col(County.id) == Document.county_id)
    if kommunenummer is not None:
        from .store import get_municipality

        m = get_municipality(session, kommunenummer, read_scope)
        q = q.where(Document.municipality_id == m.id)
    else:
        if county is not None and str(county).strip():
            read_scope = scopes.scope_for_code(session, county, "--county")
        q = q.where(col(Document.municipality_id).is_(None))
        if not read_scope.national:
            q = q.where(Document.county_id == read_scope.county_id)
    rows = session.exec(q.order_by(col(County.code).is_(None), col(County.code),
                                   col(Document.kind), col(Document.format),
                                   col(Document.version))).all()
    return [{"kind": d.kind, "county_code": code, "label": KIND_LABELS.get(d.kind, d.kind), "version": d.version,
             "format": d.format, "created_on": d.created_on.isoformat(),
             "created_at": d.created_at.isoformat(), "sha256": d.sha256, "size": d.size,
             "path": d.path, "case_id": d.case_id}
            for d, code in rows]
